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


def lagging(workdir: str, port: str, process_id: str, num_processes: str, folder: str) -> None:
    """The evaluate stage on the built-in embeddings, where process 1's view of the file system lags: there every
    done marker in ``<workdir>/<folder>`` reads as complete (as an earlier run's would), while process 0 sees what
    is there. Prints each stage's account: ``python multihost_worker.py lagging WORKDIR PORT ID N FOLDER``."""
    from anonjax import fingerprint
    from anonjax.main import validated_stages

    config = tiny_demo()
    config.stages = "evaluate"
    config.evaluate.embeddings = "builtin"
    config.train.distributed = True
    config.train.coordinator_address = f"localhost:{port}"
    config.train.num_processes = int(num_processes)
    config.train.process_id = int(process_id)
    modules = validated_stages(config)
    if process_id == "1":
        real = fingerprint.is_complete

        def stale(stage_dir, fp: str) -> bool:
            return Path(stage_dir).name == folder or real(stage_dir, fp)

        for module in (fingerprint, *modules.values()):
            if getattr(module, "is_complete", None) is real:
                module.is_complete = stale
    for stage in run(config, Path(workdir), modules):
        print(f"stage {stage.name}: {stage.result}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "lagging":
        lagging(*sys.argv[2:])
    else:
        main(*sys.argv[1:])
