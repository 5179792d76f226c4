"""Time the synthetic document set: pages per second drawn in parallel processes, against decoding the
same pages from PNG files with Pillow (what a stored dataset would cost to read).

    python -m scripts.bench_synthetic --pages 1000 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import grain
import ml_collections
import numpy as np
from PIL import Image

from anonjax.data import open_split, synthetic
from scripts import benchmark_docs


def _config(pages: int, seed: int) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        {
            "source": "synthetic",
            "seed": seed,
            "sizes": {"train": pages, "val": 0, "test": 0},
            "classes": (),
            "page_width": 384,
            "page_height": 512,
            "max_images": 0,
        }
    )


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    benchmark_docs.add_flag(parser)
    args = parser.parse_args()
    with benchmark_docs.recorded("bench_synthetic", "Synthetic documents", args.write_docs):
        run(args)


def run(args: argparse.Namespace) -> None:
    """Time drawing the pages, reading them through grain, and decoding them from PNG."""

    config = _config(args.pages, args.seed)
    listing = synthetic.list_split(config, "train")
    split = open_split(config, "train")

    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        pool.map(listing.load, listing.items[: args.workers])  # start workers, load fonts and photographs
        start = time.perf_counter()
        pages = pool.map(listing.load, listing.items, chunksize=16)
        pool_s = time.perf_counter() - start

    start = time.perf_counter()
    stream = split.records.to_iter_dataset(grain.ReadOptions(num_threads=args.workers, prefetch_buffer_size=64))
    delivered = sum(1 for record in stream if split.accept(record))
    grain_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, page in enumerate(pages):
            paths.append(Path(tmp) / f"{i:06d}.png")
            Image.fromarray(page).save(paths[-1])
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            pool.map(_decode, paths[: args.workers])
            start = time.perf_counter()
            pool.map(_decode, paths, chunksize=16)
            png_s = time.perf_counter() - start

    n = len(pages)
    height, width = pages[0].shape[:2]
    print(f"pages: {n} of {width}x{height}, {args.workers} processes, {os.cpu_count()} cores")
    print(f"anonjax synthetic, process pool : {n / pool_s:8.1f} pages/s  ({pool_s:.1f} s)")
    print(f"anonjax synthetic, grain reader : {delivered / grain_s:8.1f} pages/s  ({grain_s:.1f} s, threads)")
    print(f"Pillow PNG decode, process pool : {n / png_s:8.1f} pages/s  ({png_s:.1f} s)")
    print(f"ratio drawing / PNG decoding time: {pool_s / png_s:.2f}x")


if __name__ == "__main__":
    main()
