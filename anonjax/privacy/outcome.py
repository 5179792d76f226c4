"""What one privacy measure gives on one image: counts, or ``Missing`` with the reason it could not be taken.

A measure is a proportion, so it is kept as its numerator and denominator (``Ratio``): pooled over a sample
they give a fraction and an interval. A model that raised, an image that could not be read or an OCR engine
that is not installed gives ``Missing``, which is never counted as 0: a failed measurement must not read as
"nothing leaked".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Ratio:
    """``hits`` of ``total`` items. ``hits`` is a count, or a sum of per-item scores in [0, 1] where the
    measure is a mean (the character similarity), so both pool by addition."""

    hits: float
    total: int

    def __post_init__(self):
        if self.total < 0 or not 0 <= self.hits <= self.total:
            raise ValueError(f"a ratio needs 0 <= hits <= total, got {self.hits} of {self.total}")

    @property
    def fraction(self) -> float | None:
        """hits / total, or None when there was nothing to count."""
        return self.hits / self.total if self.total else None

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.hits + other.hits, self.total + other.total)


@dataclasses.dataclass(frozen=True)
class Measured:
    """A measure taken: its ratios by name (e.g. ``words`` and ``words_in_boxes``)."""

    ratios: Mapping[str, Ratio]


@dataclasses.dataclass(frozen=True)
class Missing:
    """A measure that could not be taken, with a reason a person can act on."""

    reason: str


Outcome = Measured | Missing


class Unavailable(Exception):
    """A model that cannot run at all here (e.g. an OCR engine that is not installed); the message says why."""


def attempt(what: str, function: Callable[..., T], *args) -> T | Missing:
    """``function(*args)``, or ``Missing`` naming ``what`` and the error when it raises.

    This is where a detector, the OCR or an image reader failing on one image becomes a missing value
    for that image instead of stopping the sample or passing for an empty result.
    """
    try:
        return function(*args)
    except Unavailable as error:
        return Missing(f"{what} unavailable: {error}")
    except Exception as error:
        return Missing(f"{what} failed: {type(error).__name__}: {error}")


def outcome_json(outcome: Outcome) -> dict:
    """``outcome`` as JSON holds it (``{"ratios": {name: [hits, total]}}`` or ``{"missing": reason}``), so that
    outcomes measured in several processes can be sent to one; ``outcome_from_json`` gives it back exactly."""
    if isinstance(outcome, Missing):
        return {"missing": outcome.reason}
    return {"ratios": {name: [np.asarray(r.hits).item(), int(r.total)] for name, r in outcome.ratios.items()}}


def outcome_from_json(value: dict) -> Outcome:
    """The outcome ``outcome_json`` wrote."""
    if "missing" in value:
        return Missing(value["missing"])
    return Measured({name: Ratio(hits, total) for name, (hits, total) in value["ratios"].items()})


def first_missing(*observations: object) -> Missing | None:
    """The first ``Missing`` among the inputs of a measure, which then is missing for the same reason."""
    return next((o for o in observations if isinstance(o, Missing)), None)
