"""Paired datasets on disk: every image as the original and as each method x degree, for inspection and
export.

Files are PNGs encoded from the pixels alone (``cv2.imencode``), so nothing of the source file travels
with them: no EXIF, no thumbnail, no text chunks. An image is written in all variants or in none: if
anonymizing or writing any variant fails, the files already written for it are removed and it is listed
as excluded with the reason. Images that are not in the box table (failed or without detections) are
never written, nor is an image whose pixels are not those its boxes were detected on.

File names are the image ids, quoted, so that personal data in a source file's name travels with it;
``opaque_names`` numbers the files instead and writes the mapping to ids apart (``names_file``), so that
the pairs folder can be shared without it. A quoted id too long for a file name (255 bytes) is shortened
(:func:`file_name`); ``pairs_<split>.json`` lists the ids and the files in the same order.

A failure to write (a full disk, a quota, a read-only file system) is not the image's fault: it removes
what was written of that image and stops with an ``OutputError`` naming the file, so the stage is not
marked done and a rerun writes every image.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from anonjax.anonymize.box_table import BoxTable
from anonjax.anonymize.methods import apply
from anonjax.errors import OutputError
from anonjax.files import atomic_open, save_json, write_error
from anonjax.layout import ORIGINAL, variant_name
from anonjax.paths import as_path

MAX_NAME_BYTES = 255  # the longest file name (one path component) of common file systems
_DIGEST_CHARS = 16


def file_name(image_id: str) -> str:
    """A file name for an image id, with no separators: the quoted id (``urllib.parse.unquote`` gives it
    back). One longer than ``MAX_NAME_BYTES`` keeps the start of the quoted id, then ``+`` and 16 hex digits
    of the id's SHA-256: still readable, unique and stable (quoting never leaves a ``+``, so a shortened name
    cannot equal a whole one)."""
    quoted = urllib.parse.quote(image_id, safe="")
    if len(quoted) + len(".png") <= MAX_NAME_BYTES:
        return quoted + ".png"
    digest = hashlib.sha256(image_id.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    stem = quoted[:MAX_NAME_BYTES - len(".png") - 1 - _DIGEST_CHARS]
    stem = stem[:stem.rfind("%")] if "%" in stem[-2:] else stem  # never cut an escape in half
    return f"{stem}+{digest}.png"


def anonymized_variants(
    image: np.ndarray, boxes: np.ndarray, masks: Mapping[float, np.ndarray], methods: Sequence[str],
    params: Mapping[str, Mapping[str, Any]],
) -> dict[str, np.ndarray]:
    """Variant name -> anonymized image, for one image with boxes [M, 4] and a box mask per degree."""
    return {
        variant_name(method, degree): apply(image[None], boxes[None], mask[None], method,
                                            **dict(params.get(method, {})), backend="numpy")[0]
        for method in methods for degree, mask in masks.items()
    }


def materialize_pairs(
    items: Iterable[tuple[str, np.ndarray]],
    table: BoxTable,
    out_dir: str | Path,
    split: str,
    *,
    methods: Sequence[str],
    degrees: Sequence[float],
    params: Mapping[str, Mapping[str, Any]],
    seed: int,
    degree_kinds: Sequence[str] = ("text",),
    include_original: bool = True,
    opaque_names: bool = False,
    names_file: str | Path | None = None,
) -> dict:
    """Write ``out_dir/<variant>/<split>/<name>`` for every (id, image) and every variant.

    ``degree_kinds``: the kinds of boxes a degree is a fraction of (see ``BoxTable.selection``). Names are
    ``file_name(id)``, or with ``opaque_names`` ``000000.png``, ... in the order written.
    Returns and writes ``out_dir/pairs_<split>.json``: the variants, the files written in all of them, and
    the ids left out with their reasons (with ``opaque_names`` only their count; ids and reasons then go
    to ``names_file`` with the mapping of file names to ids).
    """
    out_dir = as_path(out_dir)
    if opaque_names and names_file is None:
        raise ValueError("opaque_names needs a names_file for the mapping of file names to ids")
    index = {image_id: row for row, image_id in enumerate(table.ids)}
    written, excluded, names = [], {}, {}
    for image_id, image in items:
        if image_id not in index:
            excluded[image_id] = table.failed.get(image_id, "no detection (excluded)")
            continue
        row = index[image_id]
        name = f"{len(written):06d}.png" if opaque_names else file_name(image_id)
        paths: list[Path] = []
        try:
            if image is None:
                raise ValueError("the image could not be read")
            if reason := table.changed(row, image):
                raise ValueError(reason)
            n = int(table.counts[row])
            masks = {d: table.selection(d, seed, [row], degree_kinds=degree_kinds)[0, :n] for d in degrees}
            variants = anonymized_variants(image, table.row_boxes(row), masks, methods, params)
            if include_original:
                variants = {ORIGINAL: image, **variants}
            for variant, pixels in variants.items():
                path = out_dir / variant / split / name
                paths.append(path)
                write_png(path, pixels)
        except OutputError:  # the storage failed, not the image: stop, keeping nothing of it
            _remove(paths)
            raise
        except Exception as e:  # fail closed: nothing of this image stays in any output
            _remove(paths)
            excluded[image_id] = f"not written: {type(e).__name__}: {e}"
            continue
        written.append(image_id)
        names[name] = image_id
    variants = ([ORIGINAL] if include_original else []) + [variant_name(m, d) for m in methods for d in degrees]
    result = {"split": split, "variants": variants, "ids": written, "excluded": excluded}
    if opaque_names:
        save_json(names_file, {"split": split, "names": names, "excluded": excluded})
        save_json(out_dir / f"pairs_{split}.json", {"split": split, "variants": variants, "files": list(names),
                                                    "excluded": len(excluded)})
    else:
        save_json(out_dir / f"pairs_{split}.json", {**result, "files": list(names)})
    return result


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def write_png(path: Path, image: np.ndarray) -> None:
    """Encode RGB pixels as a fresh PNG and write it atomically; ValueError if encoding fails, OutputError
    naming the file if writing it does."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"could not encode {path.name} as PNG")
    try:
        with atomic_open(path, "wb") as f:
            f.write(data.tobytes())
    except OSError as e:
        raise write_error(path, e) from e
