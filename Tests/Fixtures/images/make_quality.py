"""Reference image-quality measures for ImagesTests/QualityTests (run from this folder).

sharpness = variance of the Laplacian [[0,1,0],[1,-4,1],[0,1,0]] with mirrored borders
(scipy.ndimage.laplace mode "mirror" = OpenCV BORDER_REFLECT_101), brightness = mean,
contrast = population standard deviation, all on Pillow's gray conversion (0..255), which
make_fixtures.py stored as NAME_gray.npy.
"""
import json

import numpy as np
from scipy import ndimage

results = {}
for name, gray_file in [("rgb8.png", "rgb8_gray.npy"), ("baseline.jpg", "baseline_gray.npy")]:
    gray = np.load(gray_file).astype(np.float64).squeeze()
    laplacian = ndimage.laplace(gray, mode="mirror")
    results[name] = {
        "sharpness": float(laplacian.var()),
        "brightness": float(gray.mean()),
        "contrast": float(gray.std()),
        "shape": list(gray.shape),
    }
with open("quality.json", "w") as f:
    json.dump(results, f, indent=1, sort_keys=True)
    f.write("\n")
