"""Pinned downloads: a published file fetched once into a local cache and checked on every use.

A download is written under a temporary name and moved into place only after its SHA-256 matched the pinned
value, so an interrupted or tampered download never appears in the cache. Where no digest is pinned, the
digest of the first download is recorded beside the file (``<file>.sha256``) and every later use is checked
against it, so a cached file that changed is refused.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from anonjax.errors import DatasetError, MissingInputError
from anonjax.files import atomic_path, save_text, sha256_file


@dataclasses.dataclass(frozen=True)
class Release:
    """A file published at ``url``."""

    url: str
    sha256: str | None = None  # pinned digest; None: recorded on first download, checked afterwards


def cache_root() -> Path:
    """``$ANONJAX_CACHE``, by default ``~/.cache/anonjax``: where downloaded weights are kept."""
    return Path(os.environ.get("ANONJAX_CACHE") or Path.home() / ".cache" / "anonjax")


def fetch(release: Release, target: Path, *, instead: str) -> Path:
    """``target``, downloaded from ``release.url`` first if absent, once its SHA-256 is the expected one.

    ``instead`` completes the offline error with the user's other way to provide the file (a sentence part
    such as "pass the local path to load_pretrained").
    """
    record = target.with_name(target.name + ".sha256")
    if not target.exists():
        _download(release, target, instead)
    got = sha256_file(target)
    if not release.sha256 and not record.exists():  # first use of a file whose digest is not pinned
        save_text(record, got + "\n")
    expected = release.sha256 or record.read_text().strip()
    if got != expected:
        raise DatasetError(
            f"cached file {target} has SHA-256 {got}, expected {expected}; delete it to download it again"
        )
    return target


def _download(release: Release, target: Path, instead: str) -> None:
    """Write ``release.url`` to ``target`` atomically; nothing is kept unless the pinned digest matches."""
    try:
        with urllib.request.urlopen(release.url, timeout=60) as response, atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                shutil.copyfileobj(response, f, 1 << 20)
            got = sha256_file(tmp)
            if release.sha256 and got != release.sha256:
                raise DatasetError(
                    f"download from {release.url} has SHA-256 {got}, expected {release.sha256}; "
                    "not kept (corrupt or tampered)"
                )
    except (urllib.error.URLError, OSError) as err:
        raise MissingInputError(
            f"cannot download {release.url} ({err}). Offline? Download that file elsewhere and put it at "
            f"{target}, or {instead}"
        ) from err
