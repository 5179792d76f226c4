"""What ties cached detections to the image they were made on.

An image's ``pixel_digest`` is the SHA-256 of its decoded pixels and shape: it changes whenever what a
detector saw changes, whatever the file's name, size or time, so boxes are only ever applied to the
pixels they were detected on. A file's ``file_stamp`` (size and modification time) is cheap to read for
every file of a split; it decides which cached images must be read again and compared by digest, and
the split's ``listing_digest`` over ids, stamps and the files left out tells a stage that its data changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence

import fsspec
import numpy as np

from anonjax.paths import as_path, is_local


def pixel_digest(image: np.ndarray) -> str:
    """SHA-256 (hex) of an image's shape, dtype and pixels."""
    pixels = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{pixels.shape}{pixels.dtype}".encode())
    digest.update(memoryview(pixels).cast("B"))
    return digest.hexdigest()


def file_stamp(path: str | os.PathLike) -> str:
    """What changes when a file is replaced or edited: ``size:mtime_ns`` on a local disk; for an object (a URL)
    its size and a checksum of the metadata the store keeps (generation, etag, update time), as fsspec reads it,
    or the modification time in seconds where only TensorFlow serves the URL."""
    if is_local(path):
        stat = os.stat(path)
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    try:
        fs, key = fsspec.core.url_to_fs(os.fspath(path))
    except (ImportError, ValueError):
        stat = as_path(path).stat()
        return f"{stat.length}:{stat.mtime}"
    return f"{fs.size(key)}:{fs.checksum(key):x}"


def listing_digest(ids: Sequence[str], stamps: Sequence[str], skipped: Sequence[tuple[str, str]] = ()) -> str:
    """SHA-256 (hex, 16 digits) of a split's ids, file stamps and the (file, reason) of each file left out,
    for stage fingerprints: adding, removing or fixing an unreadable file changes it too."""
    text = json.dumps([list(ids), list(stamps), [list(s) for s in skipped]], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
