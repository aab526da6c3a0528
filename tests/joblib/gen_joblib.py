#!/usr/bin/python3
"""Generate picklevm's joblib fixtures.

    /usr/bin/python3 tests/joblib/gen_joblib.py [-k SUBSTRING] [--check]

For the fixture objects of tests/fixtures/gen_fixtures.py listed in OBJECTS
(its ``m_*``/``a_*``/``b_*`` functions, imported), writes into
``tests/joblib/files/``:

    <name>.joblib           joblib.dump(obj, path)  (uncompressed)
    <name>.<codec>.joblib   joblib.dump(obj, path, compress=(codec, 3)) for
                            codec in zlib, gzip, bz2, lzma, xz, lz4, for the
                            objects in COMPRESSED
    <name>.<variant>.joblib other ways joblib writes the same object (VARIANTS):
                            ``p0`` ... ``p5``: joblib.dump(obj, path,
                            protocol=k) (the default is 4);
                            ``unaligned``: dumped into a file object without
                            tell() (joblib then writes
                            numpy_array_alignment_bytes=None, no padding);
                            ``joblib11``: wrappers without the
                            numpy_array_alignment_bytes attribute, as joblib
                            <= 1.1 wrote them (no padding)
    <name>.expected.json    the ``root`` picklevm load must print for every
                            one of them

The expected root is computed from the file's bytes by refjoblib.py (a
joblib-aware extension of tests/fixtures/refgraph.py that imports nothing
from numpy, sklearn or joblib).  Cross-checks, each a hard failure:

(a) the root equals the plain-pickle fixture's ``expected.json`` root
    (tests/fixtures/models/<name>/) after graph-json.md Principle 2's
    exception: every array joblib writes (ndarray, matrix) reached more than
    once becomes that many equal arrays, and an object array shares nothing
    with the rest of the graph (refjoblib.split_joblib_arrays).  The
    fixtures where this changes the root are printed (and listed in
    SPLIT_EXPECTED, which must match);
(b) each file is loaded for real with joblib.load (our own files) and the
    expected root is walked side by side with the real object by
    gen_fixtures.Checker: every $ndarray's dtype, shape, order and the
    sha256 of the real array's bytes in its stored order, every $object
    against the real object's __reduce_ex__(4), ...;
(c) every compressed and variant file gives the same root; a compressed
    file decompresses (stdlib / lz4, nothing after the stream) to exactly
    the bytes of the uncompressed file.

Determinism: like gen_fixtures.py this re-executes itself under
/usr/bin/python3 with PYTHONHASHSEED=0 and single-threaded BLAS; estimators
have fixed random states.  joblib's compressors are deterministic given the
same input; gzip's header mtime is 0 already (joblib writes gzip through
zlib with wbits=31, which writes mtime 0 and no file name) -- asserted
here.  ``--check`` regenerates in memory and compares with the files on
disk (rerunning rewrites byte-identical files).
"""

import os
import sys

PY = "/usr/bin/python3"
_ENV = {
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "LC_ALL": "C.UTF-8",
}
# Same environment as gen_fixtures.py, so that importing it does not make
# it re-execute itself.
if (os.path.realpath(sys.executable) != os.path.realpath(PY)
        or any(os.environ.get(k) != v for k, v in _ENV.items())
        or "PYTHONPATH" in os.environ):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(_ENV)
    os.execve(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:], env)

sys.dont_write_bytecode = True

import argparse        # noqa: E402
import contextlib      # noqa: E402
import io              # noqa: E402
import json            # noqa: E402
import shutil          # noqa: E402
import tempfile        # noqa: E402
import warnings        # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, "files")
FIXTURES_DIR = os.path.join(HERE, "..", "fixtures")
MODELS = os.path.join(FIXTURES_DIR, "models")
sys.path.insert(0, HERE)
sys.path.insert(0, FIXTURES_DIR)
import gen_fixtures as G   # noqa: E402  (defines the objects; no side effects)
import refjoblib           # noqa: E402
import run_fixtures        # noqa: E402  (its JSON comparison)

import joblib              # noqa: E402
import numpy as np         # noqa: E402
import joblib.numpy_pickle as jnp  # noqa: E402

warnings.simplefilter("ignore")

MAX_TOTAL = 3 * 1024 * 1024
CODECS = refjoblib.CODECS

# Every fixture object of gen_fixtures.py except numpy_v2_module_paths (a
# stand-in wrapper that only a special pickler can write; joblib's
# NumpyPickler intercepts the arrays itself, so it cannot produce numpy 2
# names).  Grouped for reading; all are written uncompressed.
ESTIMATORS = [
    # linear
    "logistic_regression", "linear_regression", "ridge", "lasso",
    "elastic_net", "sgd_classifier", "sgd_regressor", "perceptron",
    # svm
    "svc", "svr", "linear_svc",
    # trees and ensembles
    "decision_tree_classifier", "decision_tree_regressor",
    "extra_tree_classifier", "random_forest_classifier",
    "random_forest_regressor", "extra_trees_classifier",
    "extra_trees_regressor", "gradient_boosting_classifier",
    "gradient_boosting_regressor", "hist_gradient_boosting_classifier",
    "hist_gradient_boosting_regressor", "bagging_classifier",
    "adaboost_classifier", "isolation_forest", "voting_classifier",
    "stacking_classifier",
    # neighbors
    "kneighbors_kd_tree", "kneighbors_ball_tree", "nearest_neighbors",
    # naive bayes
    "gaussian_nb", "multinomial_nb", "bernoulli_nb",
    # clustering, decomposition
    "kmeans", "minibatch_kmeans", "dbscan", "agglomerative_clustering",
    "pca", "truncated_svd", "nmf",
    # preprocessing, imputation, text
    "standard_scaler", "minmax_scaler", "robust_scaler", "onehot_encoder",
    "ordinal_encoder", "label_encoder", "polynomial_features",
    "kbins_discretizer", "spline_transformer", "simple_imputer",
    "knn_imputer", "count_vectorizer", "tfidf_vectorizer",
    "hashing_vectorizer",
    # composition, model selection, neural nets, calibration
    "column_transformer", "pipeline", "text_pipeline", "feature_union",
    "grid_search_cv", "randomized_search_cv", "mlp_classifier",
    "mlp_regressor", "calibrated_classifier_cv",
]
NUMPY = [
    "numpy_bool", "numpy_int8", "numpy_int16", "numpy_int32", "numpy_int64",
    "numpy_uint8", "numpy_uint16", "numpy_uint32", "numpy_uint64",
    "numpy_float16", "numpy_float32", "numpy_float64", "numpy_longdouble",
    "numpy_complex64", "numpy_complex128", "numpy_big_endian",
    "numpy_fortran_2d", "numpy_fortran_3d", "numpy_single_row",
    "numpy_noncontiguous_view", "numpy_zero_d", "numpy_empty",
    "numpy_structured_packed", "numpy_structured_aligned",
    "numpy_structured_nested", "numpy_structured_titled",
    "numpy_subarray_fields", "numpy_datetime", "numpy_strings",
    "numpy_object", "numpy_object_2d_fortran", "numpy_matrix",
    "numpy_masked_array", "numpy_dtypes", "numpy_dtype_shared",
    "numpy_scalars", "numpy_random_state", "numpy_readonly",
    "numpy_shared_array", "numpy_ordered_dict",
]
BUILTINS = ["builtins_plain_data"]
OBJECTS = ESTIMATORS + NUMPY + BUILTINS

# One file per compressor for these: an object array, structured dtypes
# (nested; and HGB's predictor nodes), a pipeline, big-endian Fortran order.
COMPRESSED = ["numpy_object", "numpy_structured_nested", "pipeline",
              "hist_gradient_boosting_classifier", "numpy_fortran_3d"]

# Other joblib layouts of the same object.
_PROTOCOL_VARIANT_OBJECTS = ["numpy_object", "numpy_structured_nested",
                             "numpy_matrix", "pipeline"]
VARIANTS = {
    "unaligned": ["numpy_fortran_2d", "numpy_object", "numpy_strings",
                  "pipeline"],
    "joblib11": ["numpy_fortran_2d", "numpy_structured_nested",
                 "kneighbors_kd_tree"],
    # joblib.dump(obj, path, protocol=k): the root is protocol-invariant
    "p0": _PROTOCOL_VARIANT_OBJECTS, "p1": _PROTOCOL_VARIANT_OBJECTS,
    "p2": _PROTOCOL_VARIANT_OBJECTS, "p3": _PROTOCOL_VARIANT_OBJECTS,
    "p5": _PROTOCOL_VARIANT_OBJECTS,
}

# Fixtures whose joblib root differs from the plain pickle's root because
# an array is reached more than once (Principle 2's exception); checked.
SPLIT_EXPECTED = {
    # an array reached more than once: that many equal arrays
    "numpy_shared_array":
        "a (<f4 [5]) is reached 4 times and b (<f8 [2,2] F) 3 times: 7 "
        "distinct arrays, no $id/$ref",
    "adaboost_classifier":
        "classes_ (<i8 [3]) is also estimators_[0].classes_: two arrays",
    "calibrated_classifier_cv":
        "classes_ (<i8 [2]) is also calibrated_classifiers_[0/1].classes: "
        "three arrays",
    "grid_search_cv":
        "best_estimator_ (SVC) n_iter_ is its _num_iter (<i4 [1]): two arrays",
    "kneighbors_ball_tree":
        "_fit_X (<f8 [40,4]) is also the BallTree's data (_tree state[0]): "
        "two arrays",
    "kneighbors_kd_tree":
        "_fit_X (<f8 [40,4]) is also the KDTree's data (_tree state[0]): "
        "two arrays",
    "mlp_classifier":
        "classes_ (<i8 [3]) is also _label_binarizer.classes_: two arrays",
    "spline_transformer":
        "bsplines_[0].c and bsplines_[1].c are one array (<f8 [4,4]): two "
        "arrays",
    "stacking_classifier":
        "classes_ (<i8 [2]) is also _label_encoder.classes_: two arrays",
    "svc":
        "_dual_coef_ is dual_coef_ (<f8 [2,39]) and n_iter_ is _num_iter "
        "(<i4 [3]): four arrays instead of two",
    "svr":
        "_dual_coef_ is dual_coef_ (<f8 [1,14]): two arrays",
    "voting_classifier":
        "classes_ (<i8 [2]) is also le_.classes_: two arrays",
    # an object array is a pickle of its own: what its items share with the
    # rest of the graph is two values in the joblib file
    "gradient_boosting_classifier":
        "estimators_ is an object array (its own pickle); its 9 trees' "
        "random_state is the ensemble's _rng (one RandomState in the plain "
        "pickle, two in the joblib file: one inside the object array's "
        "pickle, one outside, whose key array is a joblib array)",
    "gradient_boosting_regressor":
        "estimators_ is an object array (its own pickle); its 3 trees' "
        "random_state is the ensemble's _rng: two RandomStates in the "
        "joblib file",
}


# ---------------------------------------------------------------------------

def _objects():
    table = dict(G.FIXTURES)
    missing = [n for n in OBJECTS if n not in table]
    if missing:
        raise SystemExit("not fixtures of gen_fixtures.py: %s" % missing)
    return [(n, table[n]) for n in OBJECTS]


class _Unseekable(io.RawIOBase):
    """A write-only file object without tell(): joblib then writes
    numpy_array_alignment_bytes=None and no padding."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += bytes(b)
        return len(b)

    def tell(self):
        raise io.UnsupportedOperation("tell")

    def seek(self, *a):
        raise io.UnsupportedOperation("seek")


@contextlib.contextmanager
def _joblib11_wrappers():
    """joblib <= 1.1 wrote NumpyArrayWrapper without the
    numpy_array_alignment_bytes attribute (and no padding); joblib 1.2
    still reads such files (safe_get_numpy_array_alignment_bytes)."""
    orig = jnp.NumpyPickler._create_array_wrapper

    def create(self, array):
        w = orig(self, array)
        del w.numpy_array_alignment_bytes
        return w
    jnp.NumpyPickler._create_array_wrapper = create
    try:
        yield
    finally:
        jnp.NumpyPickler._create_array_wrapper = orig


def dump_bytes(obj, tmp, suffix, compress=0):
    """The bytes joblib.dump writes for obj (and the temp path holding them,
    for joblib.load)."""
    path = os.path.join(tmp, "obj." + suffix)
    if suffix == "unaligned":
        w = _Unseekable()
        joblib.dump(obj, w)
        with open(path, "wb") as f:
            f.write(w.buf)
    elif suffix == "joblib11":
        with _joblib11_wrappers():
            joblib.dump(obj, path)
    elif suffix in ("p0", "p1", "p2", "p3", "p5"):
        joblib.dump(obj, path, protocol=int(suffix[1]))
    else:
        joblib.dump(obj, path, compress=compress)
    with open(path, "rb") as f:
        return f.read(), path


def _stream_protocol(data):
    return data[1] if len(data) >= 2 and data[0] == 0x80 else None


def dumps_json(root):
    return G.dumps_json(root)


def same_root(a_text, b_text):
    """run_fixtures.py's exact comparison: None or the first difference."""
    return run_fixtures.first_diff(run_fixtures.parse(a_text),
                                   run_fixtures.parse(b_text))


def _copy_fields(dst, src):
    if dst.dtype.names:
        for n in dst.dtype.names:
            _copy_fields(dst[n], src[n])
    else:
        dst[...] = src


class JoblibChecker(G.Checker):
    """gen_fixtures' Checker, for objects joblib.load returns: joblib reads a
    structured array into np.empty() field by field, so the gap bytes
    between fields (which the file stores) are uninitialized memory in the
    loaded array; they are zeroed before comparing (the original arrays
    were made with np.zeros, and check_original compares the original
    object's bytes, gaps included)."""

    def t_ndarray(self, body, real, path):
        if isinstance(real, np.ndarray) and real.dtype.names:
            z = np.zeros(real.shape, real.dtype,
                         order="F" if body.get("order") == "F" else "C")
            _copy_fields(z, real)
            real = z
        return G.Checker.t_ndarray(self, body, real, path)


def check_real(name, label, text, path):
    """(b): the expected root against joblib.load(path)."""
    real = joblib.load(path)
    checker = JoblibChecker()
    try:
        checker.check(json.loads(text), real)
    except G.Mismatch as e:
        raise SystemExit("%s (%s): expected root disagrees with joblib.load's "
                         "object at %s" % (name, label, e))
    return checker.arrays


def check_original(name, text, obj):
    """(b), bytes exactly: the expected root against the object that was
    dumped (its arrays' bytes in stored order, structured gaps included)."""
    checker = G.Checker()
    try:
        checker.check(json.loads(text), obj)
    except G.Mismatch as e:
        raise SystemExit("%s: expected root disagrees with the dumped object "
                         "at %s" % (name, e))
    return checker.arrays


def generate(name, make, tmp, report):
    """{filename: bytes} for one object, after every cross-check."""
    obj = make()
    files = {}
    raw, path = dump_bytes(obj, tmp, "joblib")
    res = refjoblib.load_joblib(raw)
    if res.end != len(raw):
        raise SystemExit("%s: %d bytes after STOP" % (name, len(raw) - res.end))
    text = dumps_json(res.root)
    # (b) the reference against joblib.load
    narrays = check_real(name, "uncompressed", text, path)
    if check_original(name, text, obj) != narrays:
        raise SystemExit("%s: the original and the loaded object have "
                         "different numbers of arrays" % name)
    raw_regions = sum(1 for r in res.regions if r.kind == "raw")
    if narrays < raw_regions:
        raise SystemExit("%s: %d joblib arrays, %d checked" % (name,
                                                               raw_regions,
                                                               narrays))
    # (a) against the plain pickle fixture's root
    with open(os.path.join(MODELS, name, "expected.json"),
              encoding="utf-8") as f:
        plain_text = f.read()
    plain = json.loads(plain_text)
    if dumps_json(refjoblib.renumber(plain)) != plain_text:
        raise SystemExit("%s: refjoblib.renumber is not the identity on the "
                         "plain root" % name)
    split_text = dumps_json(refjoblib.split_joblib_arrays(plain))
    d = same_root(text, split_text)
    if d:
        raise SystemExit("%s: joblib root differs from the plain pickle's "
                         "root (after splitting shared arrays): %s" % (name, d))
    if same_root(text, plain_text) is not None:
        report["split"].append(name)
    files[name + ".joblib"] = raw
    # (c) compressed and variant files
    for codec in (CODECS if name in COMPRESSED else ()):
        data, cpath = dump_bytes(obj, tmp, codec + ".joblib",
                                 compress=(codec, 3))
        got, dec = refjoblib.decompress(data)
        if got != codec:
            raise SystemExit("%s.%s: detected as %s" % (name, codec, got))
        if codec == "gzip" and data[4:8] != b"\0\0\0\0":
            raise SystemExit("%s.gzip: header mtime is not 0" % name)
        if dec != raw:
            raise SystemExit("%s.%s: decompresses to other bytes than the "
                             "uncompressed file" % (name, codec))
        if dumps_json(refjoblib.load_joblib(dec).root) != text:
            raise SystemExit("%s.%s: another root" % (name, codec))
        check_real(name, codec, text, cpath)
        files["%s.%s.joblib" % (name, codec)] = data
    for variant, names in VARIANTS.items():
        if name not in names:
            continue
        data, vpath = dump_bytes(obj, tmp, variant)
        vres = refjoblib.load_joblib(data)
        if dumps_json(vres.root) != text:
            raise SystemExit("%s.%s: another root" % (name, variant))
        if variant in ("unaligned", "joblib11") and (
                any(r.pad_byte is not None for r in vres.regions)
                or data == raw or not vres.regions):
            raise SystemExit("%s.%s: not an unpadded joblib file" % (name,
                                                                     variant))
        if variant.startswith("p") and (
                _stream_protocol(data) != (int(variant[1]) if variant
                                           not in ("p0", "p1") else None)
                or len(vres.regions) != len(res.regions)):
            raise SystemExit("%s.%s: not a protocol %s joblib file"
                             % (name, variant, variant[1]))
        check_real(name, variant, text, vpath)
        files["%s.%s.joblib" % (name, variant)] = data
    files[name + ".expected.json"] = text.encode("utf-8")
    report["arrays"] += len(res.regions)
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", dest="filter", help="only objects whose name "
                    "contains this (no cleanup of other files)")
    ap.add_argument("--check", action="store_true",
                    help="compare with the files on disk instead of writing")
    args = ap.parse_args()
    todo = [(n, f) for n, f in _objects()
            if not args.filter or args.filter in n]
    for n in COMPRESSED + [x for v in VARIANTS.values() for x in v]:
        if n not in OBJECTS:
            raise SystemExit("%s is not in OBJECTS" % n)
    report = {"split": [], "arrays": 0}
    out = {}
    with tempfile.TemporaryDirectory(prefix="gen_joblib.") as tmp:
        for name, make in todo:
            out.update(generate(name, make, tmp, report))
    total = sum(len(b) for b in out.values())
    if not args.filter:
        want = sorted(SPLIT_EXPECTED)
        if sorted(report["split"]) != want:
            raise SystemExit("fixtures whose joblib root differs from the "
                             "plain root: %s, expected %s"
                             % (sorted(report["split"]), want))
    stale = []
    if args.check:
        for fn, data in sorted(out.items()):
            p = os.path.join(FILES, fn)
            if not os.path.exists(p) or open(p, "rb").read() != data:
                stale.append(p)
        if not args.filter:
            for fn in sorted(os.listdir(FILES)) if os.path.isdir(FILES) else ():
                if fn not in out:
                    stale.append(os.path.join(FILES, fn) + " (not generated)")
    else:
        if not args.filter and os.path.isdir(FILES):
            shutil.rmtree(FILES)
        os.makedirs(FILES, exist_ok=True)
        for fn, data in sorted(out.items()):
            with open(os.path.join(FILES, fn), "wb") as f:
                f.write(data)
    nfiles = sum(1 for fn in out if fn.endswith(".joblib"))
    print("%d objects, %d joblib files (%d arrays in the uncompressed ones), "
          "%d bytes" % (len(todo), nfiles, report["arrays"], total))
    for n in report["split"]:
        print("  root differs from the plain pickle's (Principle 2's "
              "exception): %s: %s" % (n, SPLIT_EXPECTED.get(n, "?")))
    if total > MAX_TOTAL and not args.filter:
        raise SystemExit("total size %d over %d" % (total, MAX_TOTAL))
    if stale:
        print("differ from disk:\n  " + "\n  ".join(stale))
        sys.exit(1)


if __name__ == "__main__":
    main()
