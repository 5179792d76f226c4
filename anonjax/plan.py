"""The study plan: which models a study trains, which data variants it embeds and scores, their names,
the anonymization parameters and detector settings, and the seed. Every stage reads the study through
it, so that no stage needs another, and the grid of ``config.grid`` has one meaning everywhere.

A model is the Unadapted one (trained on original data) or an adaptation (A, B, C) to one anonymized
variant (method x degree); a variant is the original data or one method at one degree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import ml_collections

from anonjax import config_checks as cc
from anonjax.layout import ADAPTATIONS, METHODS, UNADAPTED, model_name, variant_name


@dataclasses.dataclass(frozen=True)
class Variant:
    """The original data (no method) or the data anonymized by ``method`` at ``degree``."""

    method: str | None = None
    degree: float | None = None

    @property
    def name(self) -> str:
        return variant_name(self.method, self.degree)

    @property
    def anonymized(self) -> bool:
        return self.method is not None


ORIGINAL_DATA = Variant()


@dataclasses.dataclass(frozen=True)
class Model:
    """The Unadapted model (``adaptation`` UNADAPTED, trained on the original data) or adaptation A, B or C
    to the anonymized ``variant``."""

    adaptation: str = UNADAPTED
    variant: Variant = ORIGINAL_DATA

    @property
    def name(self) -> str:
        return model_name(self.adaptation, self.variant.method, self.variant.degree)

    @property
    def unadapted(self) -> bool:
        return self.adaptation == UNADAPTED


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """Everything a stage needs to know about the study besides its own settings.

    variants: the anonymized variants of the grid (method-major, then degree); models: the Unadapted model
    first, then every adaptation x variant; method_params: keyword arguments of ``anonymize.apply`` per
    method; detectors, detector_settings, degree_kinds, keep_empty: what decides the boxes of an image.
    """

    seed: int
    variants: tuple[Variant, ...]
    models: tuple[Model, ...]
    method_params: Mapping[str, Mapping[str, Any]]
    detectors: tuple[str, ...]
    detector_settings: Mapping[str, Mapping[str, Any]]
    degree_kinds: tuple[str, ...]
    keep_empty: bool

    @property
    def unadapted(self) -> Model:
        return self.models[0]

    def embedded_variants(self, model: Model) -> tuple[Variant, ...]:
        """The variants a model embeds: the original, and every anonymized variant for the Unadapted model or
        its own for an adapted one."""
        return (ORIGINAL_DATA, *(self.variants if model.unadapted else (model.variant,)))

    def adapted(self, variant: Variant) -> tuple[Model, ...]:
        """The adapted models of the grid trained for ``variant``."""
        return tuple(m for m in self.models if not m.unadapted and m.variant == variant)

    def boxes_key(self) -> tuple:
        """What decides which boxes of an image are anonymized, besides method and degree (for fingerprints)."""
        return self.detectors, dict(self.detector_settings), self.degree_kinds, self.keep_empty


def study_plan(config: ml_collections.ConfigDict) -> StudyPlan:
    """The plan of a study config (``config.grid``, ``config.anonymize`` and ``config.seed``)."""
    grid = config.get("grid", ml_collections.ConfigDict())
    variants = tuple(Variant(m, float(d)) for m in cc.as_tuple(grid.get("methods", ()))
                     for d in cc.as_tuple(grid.get("degrees", ())))
    adaptations = cc.as_tuple(grid.get("adaptations", ()))
    models = (Model(), *(Model(a, v) for a in adaptations for v in variants))
    a = config.get("anonymize", ml_collections.ConfigDict())
    detectors = cc.as_tuple(a.get("detectors", ()))
    return StudyPlan(
        seed=int(config.get("seed", 0)),
        variants=variants,
        models=models,
        method_params=method_params(a) if "mask" in a else {},
        detectors=detectors,
        detector_settings={kind: a[kind].to_dict() for kind in detectors if kind in a},
        degree_kinds=cc.as_tuple(a.get("degree_kinds", ("text",))),
        keep_empty=bool(a.get("keep_empty", False)),
    )


def method_params(a: ml_collections.ConfigDict) -> dict[str, dict]:
    """Keyword arguments of ``anonymize.apply`` per method, from ``config.anonymize`` (a fill as a tuple)."""
    fill = cc.as_tuple(a.mask.fill)
    return {"pixel": {"cells": int(a.pixel.cells)}, "blur": {"sigma": float(a.blur.sigma)},
            "mask": {"fill": int(fill[0]) if len(fill) == 1 else tuple(int(v) for v in fill)}}


def validate_grid(config: ml_collections.ConfigDict, *, variants_required: bool = True) -> None:
    """Check the seed and ``config.grid`` before any work: adaptations from A, B, C, and methods x degrees,
    which may be left empty only when ``variants_required`` is False and no adaptation is listed (a study
    of the Unadapted model alone)."""
    cc.check_nonnegative_int(config, "seed")
    grid = config.get("grid", ml_collections.ConfigDict())
    adaptations = cc.as_tuple(grid.get("adaptations", ()))
    if adaptations:
        cc.check_choices(config, "grid.adaptations", ADAPTATIONS)
    if variants_required or adaptations or any(cc.as_tuple(grid.get(k, ())) for k in ("methods", "degrees")):
        cc.check_choices(config, "grid.methods", METHODS)
        cc.check_fractions(config, "grid.degrees")
