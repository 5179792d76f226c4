"""A detection process killed by the system (SIGKILL, as the out-of-memory killer sends) fails the image it
held, and detection goes on: never a hang."""

import contextlib
import os
import signal

import numpy as np
import pytest

from anonjax.anonymize import box_cache, detect_split, load_box_table

KILLER = "doc/kill.png"


def _detect_or_die(item):
    """Detection that kills its own process for the image ``KILLER``."""
    if item[0] == KILLER:
        os.kill(os.getpid(), signal.SIGKILL)
    return box_cache._detect(item)


@contextlib.contextmanager
def deadline(seconds: int):
    """Raise TimeoutError in the test if the block runs longer than ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"detection still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.slow  # spawns detection processes, and one more per image rerun alone
def test_a_killed_detection_process_fails_its_image_and_detection_goes_on(tmp_path, monkeypatch):
    ids = [f"doc/{i}.png" for i in range(7)]
    ids[3] = KILLER
    page = np.full((40, 60, 3), 255, np.uint8)
    monkeypatch.setattr(box_cache, "_detect", _detect_or_die)  # spawned workers import this module to run it
    with deadline(180):
        detect_split(ids, lambda i: page, ("codes",), {}, tmp_path, workers=2, shard_size=4)
    table = load_box_table(tmp_path, keep_empty=True)
    assert table.ids == [i for i in ids if i != KILLER]
    assert list(table.failed) == [KILLER]
    assert "process was killed" in table.failed[KILLER]
