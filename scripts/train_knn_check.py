"""Does training help? k-NN accuracy on held-out synthetic pages of a tiny ViT before and after DINOv2
training, and of a model continued from trained weights with fresh heads, with and without head warm-up.

    python -m scripts.train_knn_check --steps 300 --continue-steps 60 --warmup 30

1. Train the tiny ViT from scratch on the synthetic train split (unadapted recipe, ``tiny`` preset).
2. Embed train and val pages (whole page resized to the canvas size) with the random-init backbone and
   with the trained teacher; weighted k-NN (k=20, T=0.07) of val against train.
3. Treat the trained backbone as "released weights" (saved as safetensors, loaded as ``train.pretrained``)
   and continue for ``--continue-steps`` with fresh heads, once without and once with a head warm-up of
   ``--warmup`` steps, and report both k-NN accuracies.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import jax
import numpy as np
from safetensors.numpy import save_file

from anonjax.data import open_split
from anonjax.data.canvas import FittedImages
from anonjax.data.transforms import normalize, resize_square
from anonjax.downstream.knn import knn_accuracy
from anonjax.models import dinov2
from anonjax.ssl import loop
from anonjax.ssl.pipeline import PairSource
from configs import data
from configs.training import get_config


def pages(split, size: int) -> tuple[np.ndarray, np.ndarray]:
    images = [normalize(resize_square(split.dataset[i]["image"], size)) for i in range(len(split.ids))]
    return np.stack(images), split.labels


def knn(params, cfg, train, val) -> float:
    emb_train = np.asarray(dinov2.embed(params, cfg, train[0]))
    emb_val = np.asarray(dinov2.embed(params, cfg, val[0]))
    return knn_accuracy(emb_train, train[1], emb_val, val[1], k=20, temperature=0.07)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-images", type=int, default=256)
    parser.add_argument("--val-images", type=int, default=128)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--continue-steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="knn_check_"))

    d = data.synthetic(train=args.train_images, val=args.val_images, test=0)
    train_split, val_split = open_split(d, "train"), open_split(d, "val")
    c = get_config("tiny")
    c.steps_per_epoch = args.steps // c.epochs
    embed_size = 64
    train_pages, val_pages = pages(train_split, embed_size), pages(val_split, embed_size)
    images = FittedImages(train_split.dataset, c.canvas_size, budget_mb=c.cache_mb)
    source = PairSource(images, np.arange(len(train_split.ids)))

    backbone = loop.backbone_config(c)
    random_params = dinov2.init(jax.random.key(c.seed), backbone)
    print(f"random init: k-NN accuracy {knn(random_params, backbone, train_pages, val_pages):.3f}", flush=True)
    loop.train(c, workdir / "scratch", source, progress=True)
    trained, cfg = loop.load_backbone(workdir / "scratch")
    print(
        f"after {c.epochs * c.steps_per_epoch} steps from scratch: k-NN accuracy "
        f"{knn(trained, cfg, train_pages, val_pages):.3f}",
        flush=True,
    )

    released = workdir / "released.safetensors"
    save_file(dinov2.params_to_torch(trained, cfg), str(released))
    for warmup in (0, args.warmup):
        cc = get_config("tiny")
        cc.pretrained = str(released)
        cc.epochs, cc.steps_per_epoch = 1, args.continue_steps
        cc.optim.warmup_epochs = 0.2
        cc.teacher.warmup_temp_epochs = 0.2
        cc.head_warmup_steps = warmup
        loop.train(cc, workdir / f"continued_warmup{warmup}", source, progress=True)
        params, cfg = loop.load_backbone(workdir / f"continued_warmup{warmup}")
        print(
            f"continued {args.continue_steps} steps with fresh heads, head warm-up {warmup} steps: "
            f"k-NN accuracy {knn(params, cfg, train_pages, val_pages):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
