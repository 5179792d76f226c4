"""Where log records go during a run, and the closing summary."""

import logging

import pytest

from anonjax import console


@pytest.mark.parametrize(("verbosity", "level"), [
    (-3, logging.ERROR), (-1, logging.ERROR), (0, logging.WARNING), (1, logging.INFO), (2, logging.DEBUG),
    (5, logging.DEBUG),
])
def test_console_level(verbosity, level):
    assert console.console_level(verbosity) == level


@pytest.mark.parametrize(("seconds", "text"), [
    (0.04, "0.0 s"), (4.26, "4.3 s"), (59.9, "59.9 s"), (187, "3 min 07 s"), (7500, "2 h 05 min"),
])
def test_duration(seconds, text):
    assert console.duration(seconds) == text


def test_summary_names_times_skipped_stages_report_and_log(tmp_path):
    stages = [console.StageRun("evaluate", "up to date", 0.2), console.StageRun("report", "done", 3.0)]
    lines = console.summary(stages, tmp_path)
    assert lines[0] == f"summary ({tmp_path}):"
    assert lines[1].split() == ["evaluate", "0.2", "s", "skipped,", "up", "to", "date"]
    assert lines[2].split() == ["report", "3.0", "s", "done"]
    assert lines[3].split() == ["total", "3.2", "s"]
    assert lines[4:] == [f"log: {tmp_path / 'logs' / 'run.log'}"]
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "index.html").write_text("<html></html>")
    assert f"report: {tmp_path / 'report' / 'index.html'}" in console.summary(stages, tmp_path)


def _log_everything() -> None:
    logging.getLogger("absl").info("orbax: saving step 7")
    logging.getLogger("anonjax.stages.train").info("train: A_pixel_100 on 320 images")
    logging.getLogger("anonjax.stages.train").debug("train: step 7 loss 3.2")
    logging.getLogger("anonjax.stages.train").warning("train: 3 images left out")
    logging.getLogger("anonjax.stages.train").warning("first line\nsecond line")
    console.say("stage 1/1: train")


def test_quiet_console_shows_said_lines_and_warnings_the_file_keeps_info(tmp_path, capsys):
    root = logging.getLogger()
    before = root.handlers[:], root.level
    with console.routed_logs(tmp_path, verbosity=0) as path:
        _log_everything()
    assert (root.handlers, root.level) == before
    assert capsys.readouterr().err.splitlines() == [
        "warning: train: 3 images left out",
        f"warning: first line (more in {path})",
        "stage 1/1: train",
    ]
    assert path == tmp_path / "logs" / "run.log"
    kept = path.read_text()
    for message in ("INFO absl", "orbax: saving step 7", "INFO anonjax.stages.train", "WARNING anonjax.stages.train",
                    "first line\nsecond line", "stage 1/1: train"):
        assert message in kept
    assert "loss 3.2" not in kept
    assert kept.startswith("20")  # every record starts with its time stamp


def test_verbosity_brings_the_log_back_and_the_file_appends(tmp_path, capsys):
    with console.routed_logs(tmp_path, verbosity=0):
        _log_everything()
    capsys.readouterr()
    with console.routed_logs(tmp_path, verbosity=1) as path:
        _log_everything()
    shown = capsys.readouterr().err.splitlines()
    assert "info: orbax: saving step 7" in shown and "info: train: A_pixel_100 on 320 images" in shown
    assert not any("loss 3.2" in line for line in shown)
    assert path.read_text().count("stage 1/1: train") == 2
    with console.routed_logs(tmp_path, verbosity=2):
        _log_everything()
    assert "debug: train: step 7 loss 3.2" in capsys.readouterr().err.splitlines()
