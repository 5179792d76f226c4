"""``python -m anonjax.main --config ml_collections_configs/<study>.py --workdir DIR``.

Runs the stages the config selects, in order; every selected stage checks the config before any stage
starts, so a wrong value stops the run with one message naming its key. Bad data (an unusable folder,
image, cache or embedding file) stops it with one message naming the file, and so does a work directory
that cannot be written or is in use by another run (``--wait_for_workdir`` waits for that run instead).
The console shows a line per stage, progress bars, warnings and a closing summary; the full log is in
``<workdir>/logs/run.log`` (``--verbosity=1`` shows it on the console too).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import ml_collections
from absl import flags
from ml_collections import config_flags

from anonjax import console, hosts, workdir_guard
from anonjax.config_checks import ConfigError, as_tuple, check_servable
from anonjax.errors import DatasetError
from anonjax.stages import ORDER

_CONFIG = config_flags.DEFINE_config_file("config", None, "Study config file (ml_collections).", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory (default: config.workdir).")
_WAIT = flags.DEFINE_boolean("wait_for_workdir", False,
                             "Wait while another run uses the work directory, instead of stopping.")
# absl defines --verbosity (-v) for its own logger; here it says how much of the run log the console shows.
flags.FLAGS.set_default("verbosity", 0)
flags.FLAGS["verbosity"].help = (
    "Log records shown on the console: 0 warnings, 1 info, 2 debug, -1 errors only. "
    "Everything from info up is kept in <workdir>/logs/run.log."
)

log = logging.getLogger("anonjax")


def selected_stages(config) -> list[str]:
    """The stages named by ``config.stages`` in pipeline order."""
    names = as_tuple(config.get("stages", ORDER))
    unknown = [n for n in names if n not in ORDER]
    if unknown:
        raise ConfigError("stages", f"unknown stage(s) {unknown}; choose from {list(ORDER)}")
    if not names:
        raise ConfigError("stages", "selects no stage")
    return [n for n in ORDER if n in names]


def validated_stages(config) -> dict[str, ModuleType]:
    """The selected stage modules, in order, each of which has checked the config (before any work)."""
    modules = {name: importlib.import_module(f"anonjax.stages.{name}") for name in selected_stages(config)}
    for module in modules.values():
        module.validate(config)
    return modules


def run(config, workdir: str | os.PathLike, modules: dict[str, ModuleType] | None = None, *,
        wait_for_workdir: bool = False) -> list[console.StageRun]:
    """Validate every selected stage (unless ``modules`` were validated already), then run them in order;
    returns what each did and its wall time.

    A stage's ``run`` may return a one-line account of what it did (``"up to date"`` when it skipped all
    its work); one that returns nothing is reported as ``done``. With ``train.distributed`` the process joins
    the multi-host run first (:func:`anonjax.hosts.initialize`); every process runs every stage. The work
    directory is checked and locked for the run (:func:`anonjax.workdir_guard.claimed`): when another run
    holds it, this one stops with an ``OutputError`` naming the holder, or waits with ``wait_for_workdir``.
    """
    modules = validated_stages(config) if modules is None else modules
    workdir = check_servable("workdir", workdir)
    hosts.initialize(config)
    done = []
    with workdir_guard.claimed(workdir, wait=wait_for_workdir):
        for i, (name, module) in enumerate(modules.items(), 1):
            console.say(f"stage {i}/{len(modules)}: {name}")
            start = time.perf_counter()
            result = module.run(config, workdir)
            done.append(console.StageRun(name, result if isinstance(result, str) and result else "done",
                                         time.perf_counter() - start))
    return done


def _presets_importable(argv: list[str]) -> None:
    """Study configs in ``<repo>/ml_collections_configs/`` import the presets of ``<repo>/configs/``."""
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--config=") else None
        if arg == "--config" and i + 1 < len(argv):
            value = argv[i + 1]
        if value:
            root = Path(value.split(":", 1)[0]).resolve().parent.parent
            if (root / "configs").is_dir() and str(root) not in sys.path:
                sys.path.insert(0, str(root))


def load_config(path: str | Path) -> ml_collections.ConfigDict:
    """The ``get_config()`` of a study config file, for use from Python (notebooks, tests)."""
    path = Path(path).resolve()
    _presets_importable([f"--config={path}"])
    spec = importlib.util.spec_from_file_location(f"{path.stem}_study_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def _parse(argv: list[str]) -> None:
    """Parse flags; a wrong flag or config override becomes one message that names it."""
    _presets_importable(argv)
    try:
        rest = flags.FLAGS(argv)
    except (KeyError, AttributeError) as e:
        key = str(e).strip("'\"")
        culprits = [a for a in argv if a.startswith("--config.") and key in a.split("=", 1)[0].split(".")]
        sys.exit(f"error: unknown config key {key!r} in {' '.join(culprits) or 'the overrides'}")
    except (flags.Error, ValueError, TypeError) as e:
        sys.exit(f"error: {e}")
    if len(rest) > 1:
        sys.exit(f"error: unexpected arguments {rest[1:]}")
    try:
        if _CONFIG.value is None:
            sys.exit("error: --config is required, e.g. --config ml_collections_configs/demo.py")
        _CONFIG.value.keys()
    except OSError as e:
        sys.exit(f"error: --config: {str(e).strip().splitlines()[-1].strip()}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    argv = sys.argv if argv is None else argv
    _parse(argv)
    config = _CONFIG.value
    try:
        workdir = check_servable("--workdir" if _WORKDIR.value else "workdir",
                                 _WORKDIR.value or config.get("workdir") or "workdir")
        modules = validated_stages(config)  # a wrong setting stops here, before anything is written
        workdir_guard.check_writable(workdir)  # before the run log is opened in it
    except (ConfigError, DatasetError) as e:
        sys.exit(f"error: {e}")
    hosts.initialize(config)  # validation touches no device, so this is still before any computation
    log_name = console.log_file(hosts.index())
    with console.routed_logs(workdir, flags.FLAGS.verbosity, log_name):
        log.info("run with arguments: %s", " ".join(argv[1:]))
        try:
            stages = run(config, workdir, modules, wait_for_workdir=_WAIT.value)
        except (ConfigError, DatasetError) as e:  # bad settings or bad data: the message names the key or file
            log.error("%s", e)
            sys.exit(1)
        for line in console.summary(stages, workdir, log_name):
            console.say(line)


if __name__ == "__main__":
    main()
