#!/usr/bin/env bash
# README command 1: install what is missing, build, and load the sample model
# that ships in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh picklevm >/dev/null
build/picklevm load tests/fixtures/sample/pipeline.pkl
