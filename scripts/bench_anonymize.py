"""Benchmark detection and anonymization.

Prints, in one run on this machine:
  * face (MTCNN) and text (PP-OCRv3 DB) detection throughput in images/s, over ``--workers`` processes;
  * ``anonjax.anonymize.apply`` on numpy arrays (its box-local path) and jitted on jax arrays (its dense
    path), against a per-image, per-box OpenCV loop (the plain reference of the tests) on the same images
    and boxes, per method, with the ratio of the OpenCV loop's time to the box-local path's;
  * the detector packages and model files (SHA-256) that ran.

    python -m scripts.bench_anonymize                       # full size
    python -m scripts.bench_anonymize --pages 8 --batch 8   # quick check
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import time

import numpy as np

from scripts import benchmark_docs
from scripts.opencv_reference import anonymize as opencv_anonymize
from scripts.timing import best_of


def pages(n: int) -> list[np.ndarray]:
    """``n`` synthetic documents (letters, forms, identity cards with faces...) as uint8 RGB."""
    from anonjax.data import open_split
    from configs import data

    split = open_split(data.synthetic(train=n, val=1, test=1), "train")
    return [split.dataset[i]["image"] for i in range(len(split))]


def photos(n: int) -> list[np.ndarray]:
    """``n`` portrait photographs (scikit-image's astronaut, matplotlib's Grace Hopper), alternating."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    hopper = np.array(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    return [skimage.data.astronaut() if i % 2 == 0 else hopper for i in range(n)]


_DETECT = None


def _init(kind: str) -> None:
    import cv2

    from anonjax.anonymize import Detectors

    global _DETECT
    cv2.setNumThreads(1)
    _DETECT = Detectors((kind,), threads=1)


def _run(image: np.ndarray) -> int:
    return len(_DETECT(image).boxes)


def detection_rate(kind: str, images: list[np.ndarray], workers: int) -> tuple[float, int]:
    """Images per second of detector ``kind`` over ``workers`` processes (start-up excluded)."""
    with multiprocessing.get_context("spawn").Pool(workers, _init, (kind,)) as pool:
        pool.map(_run, images[:workers])  # warm up every process
        start = time.perf_counter()
        found = pool.map(_run, images, chunksize=1)
        return len(images) / (time.perf_counter() - start), sum(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=32, help="synthetic documents for text detection")
    parser.add_argument("--photos", type=int, default=32, help="photographs for face detection")
    parser.add_argument("--workers", type=int, default=2, help="detection processes")
    parser.add_argument("--batch", type=int, default=16, help="images per anonymization batch")
    parser.add_argument("--repeats", type=int, default=20, help="alternating rounds of box-local and OpenCV")
    benchmark_docs.add_flag(parser)
    args = parser.parse_args()
    with benchmark_docs.recorded("bench_anonymize", "Detection and anonymization", args.write_docs):
        run(args)


def run(args: argparse.Namespace) -> None:
    """Time detection, then each method against the OpenCV loop."""
    import jax

    from anonjax.anonymize import Detectors, apply, detect_text
    from anonjax.anonymize.methods import BLUR_SIGMA, PIXEL_CELLS

    docs, faces = pages(args.pages), photos(args.photos)
    print(f"machine: {multiprocessing.cpu_count()} CPU cores; JAX {jax.__version__} on {jax.devices()[0].platform}")
    for kind, images in (("faces", faces), ("text", docs)):
        rate, boxes = detection_rate(kind, images, args.workers)
        size = "x".join(map(str, images[0].shape[:2]))
        print(
            f"detect {kind:5s}: {rate:6.2f} images/s over {args.workers} processes ({len(images)} images of "
            f"{size}, {boxes} boxes)"
        )

    batch = [docs[i % len(docs)] for i in range(args.batch)]
    found = [detect_text(image)[0] for image in batch]
    slots = max(len(b) for b in found)
    boxes = np.zeros((len(batch), slots, 4), np.int32)
    mask = np.zeros((len(batch), slots), bool)
    for i, b in enumerate(found):
        boxes[i, : len(b)], mask[i, : len(b)] = b, True
    images = np.stack(batch)
    params = {"pixel": {"cells": PIXEL_CELLS}, "blur": {"sigma": BLUR_SIGMA}, "mask": {"fill": 0}}
    print(
        f"anonymize: batch of {len(batch)} pages {images.shape[1]}x{images.shape[2]}, "
        f"{int(mask.sum())} text boxes (mean {mask.sum(1).mean():.1f}/page, padded to {slots})"
    )
    device_images, device_boxes, device_mask = (jax.device_put(a) for a in (images, boxes, mask))
    dense = jax.jit(functools.partial(apply, backend="xla"), static_argnames="method")
    for method in ("pixel", "blur", "mask"):

        def box_local(method=method):
            apply(images, boxes, mask, method, **params[method], backend="numpy")

        def batched(method=method):
            dense(device_images, device_boxes, device_mask, method, **params[method]).block_until_ready()

        def opencv(method=method):
            for image, b, m in zip(images, boxes, mask, strict=True):
                opencv_anonymize(image, b[m], method, **params[method])

        batched()  # compile
        (t_local, t_cv), _ = best_of(box_local, opencv, rounds=args.repeats)
        (t_dense,), _ = best_of(batched, rounds=3)  # a second each: three rounds
        print(
            f"  {method:5s}: anonjax box-local {1e3 * t_local:8.1f} ms | dense jitted {1e3 * t_dense:8.1f} ms"
            f" | OpenCV per-image loop {1e3 * t_cv:8.1f} ms | OpenCV time / box-local time = {t_cv / t_local:.2f}"
        )

    print("detectors:")
    for kind, info in Detectors(("faces", "text", "codes")).describe().items():
        models = ", ".join(f"{m['file']} sha256={m['sha256']}" for m in info["models"]) or "none"
        print(f"  {kind}: {info['backend']}; models: {models}")


if __name__ == "__main__":
    main()
