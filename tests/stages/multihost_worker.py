"""One process of a multi-host run of the tiny study on localhost: ``python multihost_worker.py WORKDIR PORT
PROCESS_ID NUM_PROCESSES STAGE...``. The simulated devices come from ``XLA_FLAGS``, set by the caller; with
``ANONJAX_TEST_STALE_HOST1`` set, process 1 sees stale files."""

import os
import sys
from pathlib import Path

from tiny_study import tiny_demo  # beside this file, which is the first entry of sys.path

from anonjax.main import run

STALE = "ANONJAX_TEST_STALE_HOST1"
"""Set: process 1 sees every stage marker as done and a checkpoint at step 10 that are not there (a file system
lagging behind); the run must follow process 0 all the same."""


def main(workdir: str, port: str, process_id: str, num_processes: str, *stages: str) -> None:
    config = tiny_demo()
    config.stages = ",".join(stages)
    config.train.distributed = True
    config.train.coordinator_address = f"localhost:{port}"
    config.train.num_processes = int(num_processes)
    config.train.process_id = int(process_id)
    config.train.checkpoint_every = 20  # operational: the run equals the one checkpointed every 10 steps
    config.grid.controls = 0  # the Unadapted model and Adaption A, trained as in the study with the control
    if os.environ.get(STALE) and int(process_id) == 1:
        _see_stale_files()
    run(config, Path(workdir))


def _see_stale_files() -> None:
    import importlib

    from anonjax.ssl.checkpoint import Checkpoints

    for stage in ("anonymize", "train", "embed", "evaluate"):
        importlib.import_module(f"anonjax.stages.{stage}").is_complete = lambda stage_dir, fp: True
    Checkpoints.stored_latest_step = lambda self: 10


if __name__ == "__main__":
    main(*sys.argv[1:])
