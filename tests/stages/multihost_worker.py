"""One process of a multi-host run of the tiny study on localhost: ``python multihost_worker.py WORKDIR PORT
PROCESS_ID NUM_PROCESSES STAGE...``. The simulated devices come from ``XLA_FLAGS``, set by the caller."""

import sys
from pathlib import Path

from tiny_study import tiny_demo  # beside this file, which is the first entry of sys.path

from anonjax.main import run


def main(workdir: str, port: str, process_id: str, num_processes: str, *stages: str) -> None:
    config = tiny_demo()
    config.stages = ",".join(stages)
    config.train.distributed = True
    config.train.coordinator_address = f"localhost:{port}"
    config.train.num_processes = int(num_processes)
    config.train.process_id = int(process_id)
    config.train.checkpoint_every = 20  # operational: the run equals the one checkpointed every 10 steps
    config.grid.controls = 0  # the Unadapted model alone, trained as in the study with the others
    config.grid.adaptations = ()
    run(config, Path(workdir))


if __name__ == "__main__":
    main(*sys.argv[1:])
