"""The two implementations of ranking and anonymization, and which one a stage runs.

Every computation that has both gives the same results on either (the tests hold them equal on the same
inputs); they differ in where they run and how fast:

- ``numpy``: on this host, with numpy and OpenCV. Ranking selects and sorts with numpy's vectorized
  partition and sort (XLA's ``top_k`` and ``sort`` on a CPU compare one pair at a time, several times
  slower); anonymization reads and writes only the pixels of the selected boxes, for images of any size
  without a compilation per shape. The default of every function that takes a backend.
- ``xla``: jitted on the default device, or with a mesh (``anonjax.parallel.make_mesh``) over all of its
  devices, in every process. The only one that runs inside ``jax.jit`` (the training step) and over the
  hosts of a pod.

A stage chooses with :func:`default_backend` and logs the choice with its reason.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
from jax.sharding import Mesh

Backend = Literal["numpy", "xla"]
BACKENDS: tuple[Backend, ...] = ("numpy", "xla")


class Choice(NamedTuple):
    """A backend and why it was chosen, for the run log."""

    backend: Backend
    reason: str


def check_backend(backend: str, mesh: Mesh | None = None) -> Backend:
    """``backend`` itself; a ValueError unless it is one of ``BACKENDS``, and xla where a ``mesh`` is given."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if mesh is not None and backend != "xla":
        raise ValueError(f"backend {backend!r} runs on this host and takes no mesh: pass mesh=None, or "
                         "backend='xla' to split the work over the mesh's devices")
    return backend


def default_backend(mesh: Mesh | None = None) -> Choice:
    """numpy where the work would run on the CPUs of this one process (``mesh``'s devices, or the default
    device), xla on accelerators and over several processes."""
    if jax.process_count() > 1:
        return Choice("xla", f"{jax.process_count()} processes share the work")
    devices = [jax.devices()[0]] if mesh is None else list(mesh.devices.flat)
    platforms = sorted({d.platform for d in devices})
    if platforms == ["cpu"]:
        return Choice("numpy", "the devices are this host's CPUs, where numpy sorts and selects fastest")
    return Choice("xla", f"the devices are {', '.join(platforms)}")
