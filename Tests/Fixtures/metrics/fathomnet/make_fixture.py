"""Generates the FathomNet 2023 format fixture: solution.csv, submission.csv, expected.json.

    PYTHONPATH=<folder with scikit-learn> python3 Tests/Fixtures/metrics/fathomnet/make_fixture.py

The score is the competition's: MAP@20 over `categories` (Kaggle's `apk`: a hit counts when
the prediction is relevant and not repeated earlier in the list, precision at its rank; the
sum divided by min(number of true categories, 20)) and sAUC = 2 AUROC - 1 over `osd`
(solution: 1 = out of sample); score = (sAUC + MAP@20) / 2. Cases: repeated predictions,
more than 20 predictions, more than 20 true categories, hits beyond rank 20, no hit.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))


def apk(actual, predicted, k=20):
    predicted = predicted[:k]
    score, hits = 0.0, 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    return score / min(len(actual), k)


rng = np.random.default_rng(23)
rows = []
for i in range(40):
    truth = sorted(set(int(c) for c in rng.integers(1, 60, size=int(rng.integers(1, 4)))))
    ranking = [int(c) for c in rng.permutation(60)[: int(rng.integers(1, 25))] + 1]
    if i % 3 == 0:
        ranking = truth[:1] + ranking            # a leading hit
    if i % 5 == 0 and len(ranking) > 2:
        ranking.insert(2, ranking[0])            # a repeated prediction
    out_of_sample = int(i % 2 == 1)
    rows.append((f"img-{i:03d}", truth, ranking, out_of_sample,
                 float(np.round(rng.uniform() * 0.6 + 0.4 * out_of_sample, 6))))
many = list(range(1, 26))
rows.append(("img-many-true", many, list(range(1, 24)), 0, 0.2))      # 25 true: divided by 20
rows.append(("img-beyond-20", [99], list(range(1, 21)) + [99], 1, 0.9))  # hit at rank 21: 0
with open(os.path.join(HERE, "solution.csv"), "w") as f:
    f.write("id,categories,osd\n")
    for name, truth, _, oos, _ in rows:
        f.write(f"{name},{' '.join(map(str, truth))},{oos}\n")
with open(os.path.join(HERE, "submission.csv"), "w") as f:
    f.write("id,categories,osd\n")
    for name, _, ranking, _, osd in rows:
        f.write(f"{name},{' '.join(map(str, ranking))},{osd}\n")
map20 = float(np.mean([apk(truth, ranking) for _, truth, ranking, _, _ in rows]))
sauc = float(2 * roc_auc_score([r[3] for r in rows], [r[4] for r in rows]) - 1)
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump({"sklearn": sklearn.__version__, "map_at_20": map20, "sauc": sauc,
               "score": (sauc + map20) / 2}, f)
    f.write("\n")
