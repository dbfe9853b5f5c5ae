"""Generates Tests/Fixtures/metrics/ood_metrics.json: OpenOOD v1.5 reference values for
FPR@95TPR, AUPR-In and AUPR-Out (MetricsTests.OODMetricsTests).

Run once from the repository root: python3 Tests/Fixtures/metrics/make_ood_fixtures.py
Needs numpy and scikit-learn (versions are recorded in the JSON). Not used at run time.

The formulas are OpenOOD's `auc_and_fpr_recall` (openood/evaluators/metrics.py) restated
for scores where higher = more OOD: OpenOOD's `conf` is -score and OOD is the positive class.
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn import metrics

rng = np.random.default_rng(20261130)


def openood(score, ood, tpr_th=0.95):
    conf = -score
    fpr_list, tpr_list, _ = metrics.roc_curve(ood, -conf)
    fpr = fpr_list[np.argmax(tpr_list >= tpr_th)]
    precision_in, recall_in, _ = metrics.precision_recall_curve(1 - ood, conf)
    precision_out, recall_out, _ = metrics.precision_recall_curve(ood, -conf)
    return float(fpr), float(metrics.auc(recall_in, precision_in)), float(metrics.auc(recall_out, precision_out))


def fpr_full_curve(score, ood, tpr_th=0.95):
    """FPR at the highest threshold reaching the TPR, without sklearn's drop_intermediate."""
    fpr_list, tpr_list, _ = metrics.roc_curve(ood, score, drop_intermediate=False)
    return float(fpr_list[np.argmax(tpr_list >= tpr_th)])


def case(name, scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    fpr, aupr_in, aupr_out = openood(scores, labels)
    return {"name": name, "scores": [float(x) for x in scores], "labels": [int(x) for x in labels],
            "fprAt95TPR": fpr, "fprAt95TPRFullCurve": fpr_full_curve(scores, labels),
            "auprIn": aupr_in, "auprOut": aupr_out}


cases = [
    case("distinct", [0.1, 0.4, 0.35, 0.8, 0.7, 0.05], [0, 0, 1, 1, 1, 0]),
    case("ties", [0.5, 0.5, 0.5, 0.2, 0.9, 0.9, 0.1, 0.5], [1, 0, 1, 0, 1, 0, 0, 0]),
    case("all tied", [1.0, 1.0, 1.0, 1.0], [0, 1, 0, 1]),
    case("inverted", [0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]),
    # Each distinct score holds one OOD and one ID sample: the ROC curve is a straight
    # diagonal, sklearn drops its inner points, and OpenOOD's FPR@95 is the segment end (1.0),
    # while the full curve reaches TPR 0.95 at FPR 0.95.
    case("collinear ties", np.repeat(np.arange(20, 0, -1), 2), [1, 0] * 20),
]
tied = np.round(rng.normal(size=1000), 1)
labels = (rng.random(1000) < 0.3).astype(int)
tied = tied + 0.8 * labels
cases.append(case("1000 scores rounded to 0.1", np.round(tied, 1), labels))
continuous = rng.normal(size=500) + 1.2 * (labels[:500])
cases.append(case("500 continuous scores", continuous, labels[:500]))

fixture = {"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}
out = pathlib.Path(__file__).with_name("ood_metrics.json")
out.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
