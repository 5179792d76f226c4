"""The study plan: which models a study trains, which data variants it embeds and scores, their names,
the anonymization parameters and detector settings, and the seed. Every stage reads the study through
it, so that no stage needs another, and the grid of ``config.grid`` has one meaning everywhere.

A model is the Unadapted one (trained on original data), a control (the Unadapted recipe with another seed:
how far retraining alone moves a model) or an adaptation (A, B, C) to one anonymized variant (method x degree);
a variant is the original data or one method at one degree.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import ml_collections

from anonjax import config_checks as cc
from anonjax.layout import ADAPTATIONS, CONTROL, METHODS, UNADAPTED, control_name, model_name, variant_name


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
    """The Unadapted model (``adaptation`` UNADAPTED, trained on the original data), control number
    ``replicate`` (``adaptation`` CONTROL: the Unadapted recipe with its own seed) or adaptation A, B or C
    to the anonymized ``variant``."""

    adaptation: str = UNADAPTED
    variant: Variant = ORIGINAL_DATA
    replicate: int = 1

    @property
    def name(self) -> str:
        if self.adaptation == CONTROL:
            return control_name(self.replicate)
        return model_name(self.adaptation, self.variant.method, self.variant.degree)

    @property
    def unadapted(self) -> bool:
        return self.adaptation == UNADAPTED

    @property
    def on_original(self) -> bool:
        """Trained on the original data with the Unadapted recipe (the Unadapted model or a control)."""
        return self.adaptation in (UNADAPTED, CONTROL)

    @property
    def recipe(self) -> str:
        """The adaptation its training follows: UNADAPTED for the Unadapted model and the controls."""
        return UNADAPTED if self.on_original else self.adaptation

    @property
    def row_name(self) -> str:
        """How result rows name it: its adaptation, or its own name for a control (control, control2, ...)."""
        return self.name if self.adaptation == CONTROL else self.adaptation

    def seed(self, base: int) -> int:
        """The seed of its initialization, data order, crops, masks and drop path: ``base`` for the Unadapted
        model (its ground truth stays what it was), otherwise drawn from (``base``, name), so that models are
        independent draws and a model's seed does not depend on the rest of the grid."""
        if self.unadapted:
            return base
        digest = hashlib.sha256(f"{base}/{self.name}".encode()).digest()
        return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclasses.dataclass(frozen=True)
class StudyPlan:
    """Everything a stage needs to know about the study besides its own settings.

    variants: the anonymized variants of the grid (method-major, then degree); models: the Unadapted model
    first, then the controls, then every adaptation x variant (x the variants of ``grid.adapted_degrees`` only, when
    given); method_params: keyword arguments of
    ``anonymize.apply`` per method; detectors, detector_settings, degree_kinds, keep_empty: what decides the
    boxes of an image.
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

    @property
    def controls(self) -> tuple[Model, ...]:
        return tuple(m for m in self.models if m.adaptation == CONTROL)

    def embedded_variants(self, model: Model) -> tuple[Variant, ...]:
        """The variants a model embeds: the original, and every anonymized variant for the Unadapted model and
        the controls or its own for an adapted one."""
        return (ORIGINAL_DATA, *(self.variants if model.on_original else (model.variant,)))

    def adapted(self, variant: Variant) -> tuple[Model, ...]:
        """The adapted models of the grid trained for ``variant``."""
        return tuple(m for m in self.models if not m.on_original and m.variant == variant)

    def scored(self, variant: Variant) -> tuple[Model, ...]:
        """The models scored on ``variant``: the Unadapted model, the controls and its adapted models."""
        return (self.unadapted, *self.controls, *self.adapted(variant))

    def boxes_key(self) -> tuple:
        """What decides which boxes of an image are anonymized, besides method and degree (for fingerprints)."""
        return self.detectors, dict(self.detector_settings), self.degree_kinds, self.keep_empty


def study_plan(config: ml_collections.ConfigDict) -> StudyPlan:
    """The plan of a study config (``config.grid``, ``config.anonymize`` and ``config.seed``)."""
    grid = config.get("grid", ml_collections.ConfigDict())
    variants = tuple(Variant(m, float(d)) for m in cc.as_tuple(grid.get("methods", ()))
                     for d in cc.as_tuple(grid.get("degrees", ())))
    adaptations = cc.as_tuple(grid.get("adaptations", ()))
    controls = tuple(Model(CONTROL, replicate=i) for i in range(1, int(grid.get("controls", 0)) + 1))
    adapted_degrees = {float(d) for d in cc.as_tuple(grid.get("adapted_degrees", ()))}
    models = (Model(), *controls, *(Model(a, v) for a in adaptations for v in variants
                                   if not adapted_degrees or v.degree in adapted_degrees))
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
    """Check the seed and ``config.grid`` before any work: the number of controls, adaptations from A, B, C,
    methods x degrees, which may be left empty only when ``variants_required`` is False and no adaptation is
    listed (a study of the Unadapted model alone), and the degrees adapted models are trained for."""
    cc.check_nonnegative_int(config, "seed")
    grid = config.get("grid", ml_collections.ConfigDict())
    if "controls" in grid:
        cc.check_nonnegative_int(config, "grid.controls")
    adaptations = cc.as_tuple(grid.get("adaptations", ()))
    if adaptations:
        cc.check_choices(config, "grid.adaptations", ADAPTATIONS)
    if variants_required or adaptations or any(cc.as_tuple(grid.get(k, ())) for k in ("methods", "degrees")):
        cc.check_choices(config, "grid.methods", METHODS)
        cc.check_fractions(config, "grid.degrees")
    if cc.as_tuple(grid.get("adapted_degrees", ())):
        adapted = cc.check_fractions(config, "grid.adapted_degrees")
        if missing := sorted(set(adapted) - {float(d) for d in cc.as_tuple(grid.get("degrees", ()))}):
            raise cc.ConfigError("grid.adapted_degrees", f"lists {missing}, not among grid.degrees")
