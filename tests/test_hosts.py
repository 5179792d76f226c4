"""One process decides, all follow (``anonjax.hosts``), shown on one machine: the broadcast between two processes
is played back, the main process's messages recorded and handed to the other."""

import numpy as np
import pytest

from anonjax import hosts
from anonjax.errors import DatasetError, MissingInputError


@pytest.fixture
def as_process(monkeypatch):
    """``as_process(i)``: from now on this is process ``i`` of 2; what process 0 broadcast is what process 1
    receives, in order."""
    sent: list[np.ndarray] = []
    received = iter(sent)

    def become(index: int) -> None:
        monkeypatch.setattr(hosts, "count", lambda: 2)
        monkeypatch.setattr(hosts, "is_main", lambda: index == 0)
        monkeypatch.setattr(hosts, "barrier", lambda name: None)

        def broadcast(x):
            if index == 0:
                sent.append(np.asarray(x).copy())
                return x
            return next(received)

        monkeypatch.setattr(hosts.multihost_utils, "broadcast_one_to_all", broadcast)

    return become


def test_the_other_process_takes_the_main_processs_decision_without_deciding(as_process):
    as_process(0)
    assert hosts.main_decides(lambda: {"step": 40, "files": ["a", "b"]}) == {"step": 40, "files": ["a", "b"]}
    as_process(1)
    assert hosts.main_decides(lambda: pytest.fail("only the main process decides")) == \
        {"step": 40, "files": ["a", "b"]}


def test_an_error_of_the_main_processs_decision_is_raised_in_every_process(as_process):
    def missing(name: str) -> None:
        raise MissingInputError(f"{name} is missing: run the evaluate stage first")

    as_process(0)
    with pytest.raises(MissingInputError, match=r"results\.json is missing"):
        hosts.main_decides(missing, "results.json")
    as_process(1)
    with pytest.raises(MissingInputError, match=r"results\.json is missing: run the evaluate stage first"):
        hosts.main_decides(lambda: pytest.fail("only the main process decides"))


def test_other_errors_are_not_carried(as_process):
    """A bug (not bad data) stops the main process alone, as any failure of one process does."""
    as_process(0)
    with pytest.raises(ZeroDivisionError):
        hosts.main_decides(lambda: 1 // 0)


def test_inside_on_main_the_main_process_decides_alone(as_process, monkeypatch):
    """Code run by :func:`hosts.on_main` is on the main process only: a decision there broadcasts nothing (the
    others would never receive it)."""
    as_process(0)

    def broadcast(x):
        raise RuntimeError("broadcast: the other process would never receive it")

    monkeypatch.setattr(hosts.multihost_utils, "broadcast_one_to_all", broadcast)
    seen = []
    hosts.on_main("write", lambda: seen.append((hosts.main_decides(lambda: 7), hosts.main_value("x"))))
    assert seen == [(7, "x")]
    with pytest.raises(DatasetError, match="bad"):
        hosts.on_main("write", lambda: hosts.main_decides(lambda: (_ for _ in ()).throw(DatasetError("bad"))))
    with pytest.raises(RuntimeError, match="broadcast"):  # outside on_main again
        hosts.main_value("x")
