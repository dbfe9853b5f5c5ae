"""Reference check of Trawl's UMAP layout against umap-learn (run by UMAPReferenceTests).

    python3 umap_reference.py FOLDER

FOLDER holds points.f32 ([N, D] float32, row-major), labels.i32 ([N] int32) and
trawl.f32 (Trawl's [N, 2] layout). umap-learn lays out the same points with its
defaults (n_neighbors 15, min_dist 0.1, spectral initialisation, random_state 0).
Prints one JSON object: for "trawl" and "umap_learn", the trustworthiness of the
layout (sklearn, 15 neighbours) and the accuracy of a 5-NN classifier in 2-D
trained on the even rows and tested on the odd rows; umap-learn's version and
fit seconds.
"""
import json
import sys
import time

import numpy as np
import umap
from sklearn.manifold import trustworthiness
from sklearn.neighbors import KNeighborsClassifier

folder = sys.argv[1]
labels = np.fromfile(f"{folder}/labels.i32", dtype=np.int32)
points = np.fromfile(f"{folder}/points.f32", dtype=np.float32).reshape(len(labels), -1)
trawl = np.fromfile(f"{folder}/trawl.f32", dtype=np.float32).reshape(len(labels), 2)

start = time.perf_counter()
reference = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0).fit_transform(points)
seconds = time.perf_counter() - start


def quality(layout):
    knn = KNeighborsClassifier(n_neighbors=5).fit(layout[0::2], labels[0::2])
    return {"trustworthiness": float(trustworthiness(points, layout, n_neighbors=15)),
            "knn_accuracy": float(knn.score(layout[1::2], labels[1::2]))}


print(json.dumps({"trawl": quality(trawl), "umap_learn": quality(reference),
                  "umap_learn_version": umap.__version__, "umap_learn_seconds": seconds}))
