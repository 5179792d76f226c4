"""A stand-in for Google Cloud Storage: ``gs://<bucket>/<key>`` served from a local folder through fsspec, the way
``gcsfs`` serves a real bucket to ``etils.epath``. Like an object store it has no rename, and writing an object
needs no folder first. ``serve_buckets(folder)`` registers it in this process; a subprocess does the same from
the environment variable ``BUCKETS`` names."""

from __future__ import annotations

import os

import fsspec
from fsspec.implementations.local import LocalFileSystem

BUCKETS = "ANONJAX_TEST_BUCKETS"


class LocalBuckets(LocalFileSystem):
    """``gs://`` and ``gcs://`` keys as files under the folder ``$ANONJAX_TEST_BUCKETS``."""

    protocol = ("gs", "gcs")

    def __init__(self, *args, **kwargs):  # gcsfs's options (finalize_on_close) mean nothing here
        super().__init__(auto_mkdir=True)

    @classmethod
    def _strip_protocol(cls, path):
        path = os.fspath(path)
        for prefix in ("gs://", "gcs://"):
            path = path.removeprefix(prefix)
        root = os.environ[BUCKETS]
        return path.rstrip("/") if path.startswith(root) else os.path.join(root, path).rstrip("/")

    def glob(self, path, **kwargs):  # keys, as gcsfs lists them: "<bucket>/<key>", without the scheme
        return [os.path.relpath(p, os.environ[BUCKETS]) for p in super().glob(path, **kwargs)]

    def mv(self, *args, **kwargs):
        raise NotImplementedError("an object store has no rename")


def serve_buckets(folder: str | os.PathLike) -> None:
    """Serve ``gs://`` from ``folder`` in this process (and in the subprocesses it starts)."""
    os.environ[BUCKETS] = os.fspath(folder)
    for protocol in LocalBuckets.protocol:
        fsspec.register_implementation(protocol, LocalBuckets, clobber=True)
