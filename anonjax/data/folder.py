"""A user's own folder of images, one sub-folder per class: the way an institution brings its case files.

Layout::

    root/<class>/**/*.{png,jpg,jpeg,tif,tiff}    (suffixes in any case; hidden files ignored)
    root/splits/{train,val,test}.txt             (optional)

Class names are the sub-folder names in sorted order (``splits`` is reserved), and labels index them.
Files and class folders reached through a link that leads out of ``root`` are left out and listed,
unless ``data.follow_symlinks`` is True.
An image's id is its path relative to ``root`` with ``/`` separators, e.g. ``passport/0001.png``.

If ``root/splits/`` exists, ``<split>.txt`` lists the split's images, one relative path a line (blank
lines and lines starting with ``#`` are ignored); a listed file that does not exist is skipped like an
unreadable one. A list that names a file twice, a file of another suffix than ``IMAGE_SUFFIXES``, or a
file that another list names too is refused before any work, naming the list and the line. Otherwise
every class is shuffled with ``data.seed`` and cut by ``data.split_ratios`` (train, val, test fractions
summing to 1), so the split is stratified and the same on every machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import ml_collections
import numpy as np
from etils import epath

from anonjax.config_checks import ConfigError, as_tuple, check_nonnegative_int, check_path, get
from anonjax.data.image_io import IMAGE_SUFFIXES, read_image
from anonjax.data.listing import Listing
from anonjax.errors import DatasetError
from anonjax.paths import as_path, is_local

SPLITS_DIR = "splits"
_SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


def validate(root_config: ml_collections.ConfigDict) -> None:
    """Check ``data.root`` and either its split lists (see ``_check_split_lists``) or, when it has none,
    ``data.split_ratios`` and ``data.seed``."""
    root = check_path(root_config, "data.root", kind="dir")
    if (root / SPLITS_DIR).is_dir():
        _check_split_lists(root / SPLITS_DIR)
    else:
        _ratios(root_config)
        check_nonnegative_int(root_config, "data.seed")


def list_split(data_config: ml_collections.ConfigDict, split: str) -> Listing:
    """The images of ``split`` under ``data_config.root``.

    A class folder that is a link out of the root is not entered (a link to ``/`` would crawl the file
    system) unless ``data.follow_symlinks``; it is listed in ``Listing.refused``.
    """
    root = as_path(str(data_config.root))
    follow = bool(data_config.get("follow_symlinks", False))
    class_names, refused = [], []
    for d in sorted(root.iterdir()):
        if not d.is_dir() or d.name == SPLITS_DIR or d.name.startswith("."):
            continue
        if not follow and is_local(root) and not Path(d).resolve().is_relative_to(Path(root).resolve()):
            refused.append((str(d), f"a link to {Path(d).resolve()}, outside data.root (set "
                                    "data.follow_symlinks=True to read it)"))
            continue
        class_names.append(d.name)
    if not class_names:
        raise DatasetError(f"{root}: no class sub-folders (expected root/<class>/<image files>)")
    label_of = {name: i for i, name in enumerate(class_names)}
    if (root / SPLITS_DIR).is_dir():
        rel_paths = _read_split_list(root / SPLITS_DIR / f"{split}.txt", label_of)
        if not rel_paths:
            raise DatasetError(f"{root / SPLITS_DIR / f'{split}.txt'}: split {split!r} lists no image")
    else:
        rel_paths = _ratio_split(root, class_names, split, _ratios_of(data_config), int(data_config.seed))
    return Listing(
        ids=rel_paths,
        labels=np.array([label_of[p.split("/", 1)[0]] for p in rel_paths], dtype=np.int32),
        class_names=class_names,
        items=[root / p for p in rel_paths],
        names=[str(root / p) for p in rel_paths],
        load=read_image,
        files=True,
        refused=tuple(refused),
    )


def class_images(class_dir: epath.Path) -> list[str]:
    """Image files under ``class_dir`` (any depth, local or a URL), as sorted paths relative to its parent. Like
    ``pathlib``'s ``rglob``, a link to a folder below ``class_dir`` is not entered; a link to a file counts."""
    return sorted(p.relative_to(class_dir.parent).as_posix() for p in _files_under(class_dir))


def _files_under(folder: epath.Path) -> list[epath.Path]:
    """The image files under ``folder``, found through its listings (an object store has no recursive glob)."""
    files = []
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file():
            files.append(p)
        elif p.is_dir() and not (is_local(p) and os.path.islink(p)):
            files.extend(_files_under(p))
    return files


def _read_split_list(path: epath.Path, label_of: dict[str, int]) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path}: split list missing (root/{SPLITS_DIR}/ exists, list each split there)")
    rel_paths = []
    for line_no, rel in _list_lines(path).items():
        if rel.split("/", 1)[0] not in label_of or "/" not in rel or ".." in rel.split("/"):
            raise DatasetError(f"{path}:{line_no}: {rel!r} is not <class>/<file> for a class folder of root")
        rel_paths.append(rel)
    return rel_paths


def _list_lines(path: epath.Path) -> dict[int, str]:
    """Line number -> listed path (``/``-separated) of a split list, without blank and ``#`` lines. A path
    listed twice or whose suffix is not in ``IMAGE_SUFFIXES`` is a ``DatasetError`` naming the list and its
    lines."""
    lines, first = {}, {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        rel = line.strip()
        if not rel or rel.startswith("#"):
            continue
        rel = Path(rel).as_posix()
        suffix = Path(rel).suffix
        if suffix.lower() not in IMAGE_SUFFIXES:
            raise DatasetError(f"{path}:{line_no}: {rel!r} has the suffix {suffix!r}; only image files "
                               f"({', '.join(IMAGE_SUFFIXES)}, any case) can be listed: convert it or remove the line")
        if rel in first:
            raise DatasetError(f"{path}: lines {first[rel]} and {line_no} both list {rel!r}; remove one")
        lines[line_no], first[rel] = rel, line_no
    return lines


def _check_split_lists(splits_dir: epath.Path) -> None:
    """Check each split list there is (``_list_lines``) and that no two list the same file: a file in two
    splits would be trained on and evaluated on."""
    owner: dict[str, tuple[epath.Path, int]] = {}
    for split in _SPLIT_CODES:
        path = splits_dir / f"{split}.txt"
        if not path.is_file():
            continue
        for line_no, rel in _list_lines(path).items():
            if rel in owner:
                other, other_line = owner[rel]
                raise DatasetError(f"{rel!r} is in two split lists, {other}:{other_line} and {path}:{line_no}: "
                                   "a file belongs to one split; remove it from one list")
            owner[rel] = (path, line_no)


def _ratio_split(root: epath.Path, class_names: list[str], split: str, ratios: tuple[float, ...],
                 seed: int) -> list[str]:
    chosen, sizes = [], []
    for label, name in enumerate(class_names):
        files = class_images(root / name)
        sizes.append(len(files))
        order = np.random.default_rng([seed, label]).permutation(len(files))
        cuts = np.rint(np.cumsum(ratios)[:2] * len(files)).astype(int)
        part = np.split(order, cuts)[_SPLIT_CODES[split]]
        chosen.extend(files[i] for i in np.sort(part))
    if not chosen:
        raise DatasetError(
            f"{root}: split {split!r} is empty: data.split_ratios {ratios} give it no image of the "
            f"{len(class_names)} classes ({min(sizes)} to {max(sizes)} images each); raise its ratio, add "
            f"images, or list the split in {root / SPLITS_DIR / (split + '.txt')}")
    return chosen


def _ratios(root_config: ml_collections.ConfigDict) -> tuple[float, ...]:
    given = as_tuple(get(root_config, "data.split_ratios"))
    try:
        ratios = tuple(float(r) for r in given if not isinstance(r, bool))
    except (TypeError, ValueError):
        ratios = ()
    if len(ratios) != 3 or len(given) != 3 or min(ratios) < 0:
        raise ConfigError("data.split_ratios", f"must be three fractions (train, val, test), got {given!r}")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise ConfigError("data.split_ratios", f"must sum to 1, got {given!r} (sum {sum(ratios)})")
    return ratios


def _ratios_of(data_config: ml_collections.ConfigDict) -> tuple[float, ...]:
    return _ratios(ml_collections.ConfigDict({"data": data_config}))
