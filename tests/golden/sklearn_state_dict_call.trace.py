exit 1
# picklevm trace: 355 bytes, sha256 8857919fd3862858e326708ed8fda044a907fd0171843e070ac877253c9b4cef, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from sklearn.linear_model._logistic import LogisticRegression
from os import system

# pickle 1, protocol 4
_var0 = LogisticRegression.__new__(LogisticRegression)  # offset 68
_var1 = system('id')  # offset 323  !! NOT ADMITTED BY THE POLICY
_var0.__setstate__({'penalty': 'l2', 'dual': False, 'tol': 0.0001, 'C': 0.5, 'fit_intercept': True, 'intercept_scaling': 1, 'class_weight': None, 'random_state': None, 'solver': 'lbfgs', 'max_iter': 100, 'multi_class': 'auto', 'verbose': 0, 'warm_start': False, 'n_jobs': None, 'l1_ratio': None, 'classes_': _var1, '_sklearn_version': '1.2.1'})  # BUILD at offset 353
result = _var0
