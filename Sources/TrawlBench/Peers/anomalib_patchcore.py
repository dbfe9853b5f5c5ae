"""anomalib 2.7 CPU peer of `make bench`'s end-to-end figure (run by TrawlBench, never on the main path).

Usage: anomalib_patchcore.py MVTEC_CATEGORY_FOLDER CORESET_RATIO SCRATCH_FOLDER
PatchCore (wide_resnet50_2, layer2 + layer3, k = 9, the library's defaults) with the given
coreset ratio on an MVTec-layout folder, CPU, 2 threads. Prints
`fit_seconds test_seconds peak_resident_bytes image_auroc`, or exits with status 3 and the
reason when anomalib does not import. No weights can be downloaded here, so the backbone
is untrained (`pre_trained=False`): the times are those of the real pipeline, the AUROC is not.
"""
import resource
import sys
import time
from pathlib import Path

# torchvision's compiled operators (nms, roi_align, deform_conv2d, ...) come in a library linked
# against CUDA, which the CPU torch wheel lacks, so they never load and torchvision's import
# fails where it registers their shapes. PatchCore calls none of them: declare each one that
# is missing with a placeholder signature so that the import goes through; calling one still
# fails, loudly.
TORCHVISION_OPERATORS = ["roi_align", "_roi_align_backward", "ps_roi_align", "_ps_roi_align_backward", "roi_pool",
                         "_roi_pool_backward", "ps_roi_pool", "_ps_roi_pool_backward", "nms", "qnms", "qroi_align",
                         "deform_conv2d", "_deform_conv2d_backward"]


def declare_missing_torchvision_operators(torch):
    library = torch.library.Library("torchvision", "FRAGMENT")
    for name in TORCHVISION_OPERATORS:
        try:
            getattr(torch.ops.torchvision, name)
        except (AttributeError, RuntimeError):
            library.define(f"{name}(Tensor a, Tensor b, float c) -> Tensor")
    return library


try:
    import torch
    torchvision_placeholders = declare_missing_torchvision_operators(torch)
    from anomalib.data import Folder
    from anomalib.engine import Engine
    from anomalib.models import Patchcore
except Exception as error:  # ImportError, or a broken binary dependency (torchvision's operators)
    print(f"anomalib does not import: {type(error).__name__}: {error}")
    sys.exit(3)


def main():
    root, ratio, scratch = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
    torch.set_num_threads(2)
    defects = sorted(p.relative_to(root).as_posix() for p in (root / "test").iterdir() if p.name != "good")
    datamodule = Folder(name=root.name, root=root, normal_dir="train/good", abnormal_dir=defects,
                        normal_test_dir="test/good", train_batch_size=16, eval_batch_size=16, num_workers=0)
    model = Patchcore(backbone="wide_resnet50_2", layers=["layer2", "layer3"], pre_trained=False,
                      coreset_sampling_ratio=ratio)
    engine = Engine(accelerator="cpu", devices=1, logger=False, default_root_dir=scratch,
                    enable_progress_bar=False)
    start = time.perf_counter()
    engine.fit(model=model, datamodule=datamodule)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    results = engine.test(model=model, datamodule=datamodule, verbose=False)
    test = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{fit:.2f} {test:.2f} {peak} {results[0].get('image_AUROC', float('nan')):.4f}")


if __name__ == "__main__":
    main()
