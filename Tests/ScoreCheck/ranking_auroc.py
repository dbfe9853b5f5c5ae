"""The acceptance check of `make score-check`: the AUROC of `trawl score`'s ranking of a
folder of MVTec-layout test images (ids `good/...` normal, any other folder anomalous)
equals the image AUROC of the run that saved the model.

usage: ranking_auroc.py SCORES_CSV METRICS_CSV

SCORES_CSV is trawl score's scores.csv (no labels; the folder in the id is the generator's
label); METRICS_CSV is the run's metrics.csv, whose best AUROC is the model's grid point's
(AUROC is the spec's headline metric). AUROC is the Mann-Whitney statistic with
ties counted half, in exact counts; both must agree to 1e-12.
"""
import csv
import sys


def auroc(scores, labels):
    positives = [s for s, l in zip(scores, labels) if l]
    negatives = [s for s, l in zip(scores, labels) if not l]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def main(scores_csv, metrics_csv):
    with open(scores_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    labels = [not row["id"].startswith("good/") for row in rows]
    ranking = auroc([float(row["score"]) for row in rows], labels)
    with open(metrics_csv, newline="") as f:
        metrics = list(csv.DictReader(f))
    run = max(float(row["auroc"]) for row in metrics)
    print(f"{scores_csv}: {len(rows)} images ({sum(labels)} anomalous by folder); "
          f"ranking AUROC {ranking:.6f}, the run's AUROC {run:.6f}")
    if abs(ranking - run) > 1e-12:
        sys.exit("score-check: the ranking's AUROC differs from the run's")


if __name__ == "__main__":
    main(*sys.argv[1:])
