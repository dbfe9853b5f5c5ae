"""Generates the one-class SVM and logistic-probe fixtures (run once; outputs are committed).

    pip install --target /tmp/sk scikit-learn numpy
    PYTHONPATH=/tmp/sk python3 Tests/Fixtures/scorers/make_svm_probe_fixtures.py

Every fixture stores its inputs too, so the Swift tests never depend on numpy's random
streams.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.svm import OneClassSVM

HERE = os.path.dirname(os.path.abspath(__file__))


def dump(name, payload):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(payload, f)
        f.write("\n")


def as_list(a):
    return np.asarray(a, dtype=np.float64).ravel().tolist()


# --- One-class SVM ----------------------------------------------------------------
# Two clusters with different spreads plus a few outliers; queries inside, between and
# far outside. Cases: gamma "scale" and a number, small and large nu.
rng = np.random.default_rng(21)
train = np.concatenate([
    rng.normal(size=(90, 12)) * 0.8 + 2.0,
    rng.normal(size=(60, 12)) * 1.5 - 1.0,
    rng.normal(size=(6, 12)) * 6.0,
]).astype(np.float32)
queries = np.concatenate([
    rng.normal(size=(10, 12)) * 0.8 + 2.0,
    rng.normal(size=(10, 12)) * 4.0,
    np.full((2, 12), 9.0),
]).astype(np.float32)
cases = []
for nu, gamma in ((0.1, "scale"), (0.5, "scale"), (0.05, 0.02), (0.3, 0.2)):
    model = OneClassSVM(kernel="rbf", nu=nu, gamma=gamma, tol=1e-3).fit(train.astype(np.float64))
    cases.append({
        "nu": nu, "gamma": gamma,
        "fitted_gamma": float(model._gamma),
        "rho": float(model.offset_[0]),
        "support_count": int(len(model.support_)),
        "dual_sum": float(model.dual_coef_.sum()),
        "train_decision": as_list(model.decision_function(train.astype(np.float64))),
        "query_decision": as_list(model.decision_function(queries.astype(np.float64))),
    })
dump("one_class_svm.json", {
    "sklearn": sklearn.__version__,
    "train_shape": list(train.shape), "train": as_list(train),
    "queries_shape": list(queries.shape), "queries": as_list(queries),
    "cases": cases,
})

# --- Logistic probe ----------------------------------------------------------------
# Four classes, multi-label (a sample carries 1-3 classes), overlapping so that the
# optimum is finite at weak regularisation. Trawl's regularization λ is sklearn's
# C = 1 / (N·λ); binary one-vs-rest fits, lbfgs run to a tight tolerance.
rng = np.random.default_rng(22)
n, d, k = 240, 10, 4
x = (rng.normal(size=(n, d)) + rng.normal(size=d)).astype(np.float32)
true_w = rng.normal(size=(d, k))
logits = x.astype(np.float64) @ true_w + rng.normal(size=(n, k)) * 2.0
y = (logits > np.quantile(logits, 0.6, axis=0)).astype(int)
y[y.sum(axis=1) == 0, np.argmax(logits[y.sum(axis=1) == 0], axis=1)] = 1
probe_queries = rng.normal(size=(6, d)).astype(np.float32)
fits = []
for regularization in (1e-3, 1e-1):
    c = 1.0 / (n * regularization)
    coefficients, intercepts, probabilities = [], [], []
    for cls in range(k):
        model = LogisticRegression(C=c, solver="lbfgs", tol=1e-12, max_iter=100000)
        model.fit(x.astype(np.float64), y[:, cls])
        coefficients.append(model.coef_[0])
        intercepts.append(model.intercept_[0])
        probabilities.append(model.predict_proba(probe_queries.astype(np.float64))[:, 1])
    fits.append({
        "regularization": regularization, "C": c,
        "coefficients": as_list(np.array(coefficients)),
        "intercepts": as_list(intercepts),
        "query_probabilities": as_list(np.array(probabilities).T),
    })
dump("logistic_probe.json", {
    "sklearn": sklearn.__version__,
    "x_shape": [n, d], "x": as_list(x),
    "labels": [[int(c) for c in np.flatnonzero(row)] for row in y],
    "classes": k,
    "queries_shape": list(probe_queries.shape), "queries": as_list(probe_queries),
    "fits": fits,
})
