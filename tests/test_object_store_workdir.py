"""A work directory on an object store: ``--workdir gs://...`` stays a URL, gives the results of a local run, and a
run killed between writing its results and committing them is redone."""

import logging
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from object_store import serve_buckets

from anonjax.config_checks import ConfigError
from anonjax.errors import OutputError
from anonjax.main import load_config, run

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "ml_collections_configs" / "evaluate.py"
RESULTS = ("results/scenarios.csv", "results/downstream.csv", "results/reference.json")


def _config():
    config = load_config(CONFIG)
    config.grid.methods = ("mask",)
    config.grid.adaptations = ("A",)
    return config


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("local")
    run(_config(), workdir)
    return workdir


@pytest.fixture
def buckets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a URL collapsed into a local folder would appear here, as gs:/...
    folder = tmp_path / "buckets"
    folder.mkdir()
    serve_buckets(folder)
    return folder


def test_the_evaluate_study_on_a_bucket_equals_a_local_run(local_run, buckets, tmp_path):
    run(_config(), "gs://study/run")
    stored = buckets / "study" / "run"
    assert (stored / "results" / "DONE.json").is_file() and (stored / "report" / "index.html").is_file()
    for name in RESULTS:
        assert (stored / name).read_bytes() == (local_run / name).read_bytes(), name
    assert not (tmp_path / "gs:").exists()
    assert not (stored / ".lock").exists()  # released at the end of the run


def test_a_run_killed_before_its_commit_is_redone(local_run, buckets, caplog):
    kill = textwrap.dedent(f"""
        import os, signal, sys
        sys.path[:0] = [{str(ROOT / 'tests')!r}, {str(ROOT)!r}]
        from object_store import serve_buckets
        serve_buckets({str(buckets)!r})
        import anonjax.stages.evaluate as evaluate
        from test_object_store_workdir import _config
        from anonjax.main import run

        def commit(stage_dir, fp, **info):  # killed after the results are written, before their marker
            if str(stage_dir).endswith("/results"):
                os.kill(os.getpid(), signal.SIGKILL)
        evaluate.mark_complete = commit
        run(_config(), "gs://study/run")
    """)
    killed = subprocess.run([sys.executable, "-c", kill], capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    stored = buckets / "study" / "run"
    assert (stored / "results" / "scenarios.csv").is_file() and not (stored / "results" / "DONE.json").exists()

    # The killed run's lock object stays: the next run names it and says what to do.
    with pytest.raises(OutputError, match=r"if that run was killed, delete gs://study/run/\.lock and rerun"):
        run(_config(), "gs://study/run")
    (stored / ".lock").unlink()
    with caplog.at_level(logging.INFO):
        run(_config(), "gs://study/run")
    assert "are up to date" not in caplog.text  # not taken as up to date: redone
    assert (stored / "results" / "DONE.json").is_file()
    for name in RESULTS:
        assert (stored / name).read_bytes() == (local_run / name).read_bytes(), name


def test_a_scheme_nothing_serves_stops_naming_the_key(tmp_path):
    config = _config()
    with pytest.raises(ConfigError, match=r"workdir.*s3://bucket/run.*pip install s3fs"):
        run(config, "s3://bucket/run")
    config.evaluate.embeddings = "s3://bucket/embeddings"
    with pytest.raises(ConfigError, match=r"evaluate\.embeddings.*pip install s3fs"):
        run(config, tmp_path)


def test_data_on_a_bucket_is_accepted_and_a_detector_model_there_is_refused(buckets, tmp_path):
    from test_object_store_anonymize import study

    (buckets / "data" / "pages" / "letters").mkdir(parents=True)
    (buckets / "models" / "det.onnx").parent.mkdir()
    (buckets / "models" / "det.onnx").write_bytes(b"onnx")
    config = study("gs://data/pages")
    config.anonymize.detectors = ("text",)
    config.anonymize.text.model_path = "gs://models/det.onnx"  # onnxruntime opens local files only
    with pytest.raises(ConfigError, match=r"anonymize\.text\.model_path.*is a URL.*copy it to a local or mounted"):
        run(config, tmp_path / "run")


def test_a_data_root_of_a_scheme_nothing_serves_stops_naming_the_key(tmp_path):
    from test_object_store_anonymize import study

    with pytest.raises(ConfigError, match=r"data\.root.*s3://data/pages.*pip install s3fs"):
        run(study("s3://data/pages"), tmp_path / "run")
