"""Data source presets: each returns the ``config.data`` block a study embeds.

Example (in a study config): ``config.data = data.synthetic(train=600, val=200, test=200)``.
Every preset holds the keys ``anonjax.data.open_split`` reads for that source; ``max_images`` > 0 keeps
a seeded random subset of each split (0 keeps all); an image file of more than ``max_pixels`` pixels is
left out and listed (the text detector's memory grows with the area); a file or class folder that is a
link out of ``root`` is left out and listed unless ``follow_symlinks``.
"""

from __future__ import annotations

import ml_collections

from anonjax.data.image_io import DEFAULT_MAX_PIXELS as MAX_PIXELS


def synthetic(train: int = 600, val: int = 200, test: int = 200, seed: int = 0) -> ml_collections.ConfigDict:
    """The built-in synthetic documents (offline default): 11 classes, 384 x 512 pages."""
    return ml_collections.ConfigDict({
        "source": "synthetic",
        "seed": seed,
        "sizes": {"train": train, "val": val, "test": test},
        "classes": (),  # empty: all classes of anonjax.data.synthetic.CLASS_NAMES
        "page_width": 384,
        "page_height": 512,
        "max_images": 0,
    })


def celeba(root: str = "~/data/celeba", celeba_format: str = "folder", download: bool = False,
           seed: int = 0) -> ml_collections.ConfigDict:
    """CelebA: ``celeba_format`` "folder" (official files under ``root``) or "tfds" (``root`` is the
    TFDS data_dir; ``download`` fetches and prepares once, needs the network and ``anonjax[tfds]``)."""
    return ml_collections.ConfigDict({
        "source": "celeba",
        "root": root,
        "celeba_format": celeba_format,
        "download": download,
        "seed": seed,
        "max_images": 0,
        "max_pixels": MAX_PIXELS,
        "follow_symlinks": False,
    })


def rvl_cdip(root: str = "~/data/rvl-cdip", seed: int = 0) -> ml_collections.ConfigDict:
    """RVL-CDIP from its archive layout (``root/images``, ``root/labels``)."""
    return ml_collections.ConfigDict({"source": "rvl_cdip", "root": root, "seed": seed, "max_images": 0,
                                      "max_pixels": MAX_PIXELS, "follow_symlinks": False})


def folder(root: str = "~/data/cases", split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
           seed: int = 0) -> ml_collections.ConfigDict:
    """A user's folder ``root/<class>/*``; ``root/splits/{train,val,test}.txt`` if present, otherwise a
    seeded stratified split by ``split_ratios``."""
    return ml_collections.ConfigDict({
        "source": "folder",
        "root": root,
        "split_ratios": split_ratios,
        "seed": seed,
        "max_images": 0,
        "max_pixels": MAX_PIXELS,
        "follow_symlinks": False,
    })


def get_config() -> ml_collections.ConfigDict:
    """The default data block: the synthetic documents."""
    return synthetic()
