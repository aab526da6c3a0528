exit 0
# picklevm trace: 1831 bytes, sha256 6b820ad33ba3c3e59b578ae94b6bc53677262bf4490b0c47c76dfcaa39d96141, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from sklearn.pipeline import Pipeline
from sklearn.preprocessing._data import StandardScaler
from numpy import dtype
from numpy.core.multiarray import scalar
from numpy.core.multiarray import _reconstruct
from sklearn.decomposition._pca import PCA
from sklearn.linear_model._logistic import LogisticRegression
from numpy import ndarray

# pickle 1, protocol 4
_var0 = Pipeline.__new__(Pipeline)  # offset 44
_var1 = StandardScaler.__new__(StandardScaler)  # offset 118
_var2 = dtype('i8', False, True)  # offset 255
_var3 = scalar(_var2, b'(\x00\x00\x00\x00\x00\x00\x00')  # offset 295
_var4 = _reconstruct(ndarray, (0,), b'b')  # offset 348
_var5 = dtype('f8', False, True)  # offset 368
_var6 = _reconstruct(ndarray, (0,), b'b')  # offset 451
_var7 = _reconstruct(ndarray, (0,), b'b')  # offset 522
_var1.__setstate__({'with_mean': True, 'with_std': True, 'copy': True, 'n_features_in_': 4, 'n_samples_seen_': _var3, 'mean_': _var4, 'var_': _var6, 'scale_': _var7, '_sklearn_version': '1.2.1'})  # BUILD at offset 600
_var8 = PCA.__new__(PCA)  # offset 647
_var9 = _reconstruct(ndarray, (0,), b'b')  # offset 844
_var10 = scalar(_var5, b'\xc4\x7f\x13\xd9\xbe\x12\xe6?')  # offset 929
_var11 = _reconstruct(ndarray, (0,), b'b')  # offset 972
_var12 = _reconstruct(ndarray, (0,), b'b')  # offset 1108
_var13 = _reconstruct(ndarray, (0,), b'b')  # offset 1182
_var14 = _reconstruct(ndarray, (0,), b'b')  # offset 1247
_var8.__setstate__({'n_components': 2, 'copy': True, 'whiten': False, 'svd_solver': 'auto', 'tol': 0.0, 'iterated_power': 'auto', 'n_oversamples': 10, 'power_iteration_normalizer': 'auto', 'random_state': None, 'n_features_in_': 4, '_fit_svd_solver': 'full', 'mean_': _var9, 'noise_variance_': _var10, 'n_samples_': 40, 'components_': _var11, 'n_components_': 2, 'explained_variance_': _var12, 'explained_variance_ratio_': _var13, 'singular_values_': _var14, '_sklearn_version': '1.2.1'})  # BUILD at offset 1286
_var15 = LogisticRegression.__new__(LogisticRegression)  # offset 1352
_var16 = _reconstruct(ndarray, (0,), b'b')  # offset 1583
_var17 = _reconstruct(ndarray, (0,), b'b')  # offset 1639
_var18 = dtype('i4', False, True)  # offset 1659
_var19 = _reconstruct(ndarray, (0,), b'b')  # offset 1715
_var20 = _reconstruct(ndarray, (0,), b'b')  # offset 1776
_var15.__setstate__({'penalty': 'l2', 'dual': False, 'tol': 0.0001, 'C': 1.0, 'fit_intercept': True, 'intercept_scaling': 1, 'class_weight': None, 'random_state': None, 'solver': 'lbfgs', 'max_iter': 50, 'multi_class': 'auto', 'verbose': 0, 'warm_start': False, 'n_jobs': None, 'l1_ratio': None, 'n_features_in_': 2, 'classes_': _var16, 'n_iter_': _var17, 'coef_': _var19, 'intercept_': _var20, '_sklearn_version': '1.2.1'})  # BUILD at offset 1807
_var0.__setstate__({'steps': [('scale', _var1), ('pca', _var8), ('clf', _var15)], 'memory': None, 'verbose': False, '_sklearn_version': '1.2.1'})  # BUILD at offset 1829
result = _var0
