// Runs fuzz inputs through a target without libFuzzer: every build replays
// fuzz/regressions/ (and the seed corpora) with it, so a fixed crash stays
// fixed even where clang's fuzzer runtime is not built.
//   picklevm_replay TARGET PATH...   (files, or folders of files)
#include <dirent.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/targets.h"

namespace {

void Collect(const std::string& path, std::vector<std::string>* files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return;
  }
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      Collect(path + "/" + e->d_name, files);
    }
    closedir(d);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: picklevm_replay TARGET PATH...\n");
    return 64;
  }
  picklevm::FuzzFn fn = picklevm::FuzzTargetByName(argv[1]);
  if (fn == nullptr) {
    fprintf(stderr, "unknown target %s\n", argv[1]);
    return 64;
  }
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) Collect(argv[i], &files);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string data = ss.str();
    fn(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  }
  printf("replay %s: %zu passed, 0 failed\n", argv[1], files.size());
  return 0;
}
