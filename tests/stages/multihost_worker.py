"""One process of a multi-host run of the tiny study on localhost: ``python multihost_worker.py WORKDIR PORT
PROCESS_ID NUM_PROCESSES STAGE...``. The simulated devices come from ``XLA_FLAGS``, set by the caller."""

import sys
from pathlib import Path

from tiny_study import tiny_demo  # in tests/, on PYTHONPATH (set by the test that starts this process)

from anonjax.main import run
from anonjax.privacy import study_measures
from anonjax.retrieval import study_grid

PROBE_FITTED = "linear probe fitted"
IMAGE_MEASURED = "privacy image measured"


def _counted(function, line: str):
    """``function`` that prints ``line`` each time it runs, so that the test sees which process ran it."""
    def counted(*args, **kwargs):
        print(line, flush=True)
        return function(*args, **kwargs)
    return counted


def main(workdir: str, port: str, process_id: str, num_processes: str, *stages: str) -> None:
    config = tiny_demo()
    config.stages = ",".join(stages)
    config.train.distributed = True
    config.train.coordinator_address = f"localhost:{port}"
    config.train.num_processes = int(num_processes)
    config.train.process_id = int(process_id)
    config.train.checkpoint_every = 20  # operational: the run equals the one checkpointed every 10 steps
    config.grid.controls = 0  # the Unadapted model and Adaptation A, trained as in the study with the control
    study_grid.linear_probe_accuracy = _counted(study_grid.linear_probe_accuracy, PROBE_FITTED)
    study_measures.variant_images = _counted(study_measures.variant_images, IMAGE_MEASURED)  # once per image
    run(config, Path(workdir))


if __name__ == "__main__":
    main(*sys.argv[1:])
