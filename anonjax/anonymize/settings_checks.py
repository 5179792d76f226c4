"""Checks of ``config.anonymize`` before any work.

A wrong detector setting does not fail loudly later: a negative margin shrinks boxes (masked text stays
readable), a pyramid ``scale_factor`` of 1 never ends, a threshold above 1 finds nothing. Each check
stops the run with a ``ConfigError`` naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ml_collections

from anonjax import config_checks as cc
from anonjax.anonymize.detection import KINDS
from anonjax.anonymize.methods import METHODS
from anonjax.anonymize.text import default_model_path

_KNOWN = {
    "faces": {"min_face_size", "thresholds", "scale_factor", "min_score", "margin"},
    "text": {"model_path", "limit_side_len", "limit_type", "thresh", "box_thresh", "unclip_ratio", "max_candidates",
             "use_dilation", "margin"},
    "codes": {"barcodes", "qr_codes"},
}


def check_anonymize_settings(config: ml_collections.ConfigDict) -> None:
    """Check ``config.anonymize``: detectors, methods, degrees, splits, method parameters, caching and output
    switches, and the settings of every selected detector."""
    from anonjax.data import SPLITS

    cc.check_choices(config, "anonymize.detectors", KINDS)
    cc.check_choices(config, "anonymize.degree_kinds", KINDS)
    cc.check_choices(config, "anonymize.methods", METHODS)
    cc.check_fractions(config, "anonymize.degrees")
    cc.check_choices(config, "anonymize.splits", SPLITS)
    cc.check_positive_int(config, "anonymize.pixel.cells")
    cc.check_fraction(config, "anonymize.blur.sigma")  # of the box's shorter side
    fill = cc.as_tuple(cc.get(config, "anonymize.mask.fill"))
    if len(fill) not in (1, 3) or not all(isinstance(v, int) and 0 <= v <= 255 for v in fill):
        raise cc.ConfigError("anonymize.mask.fill", f"must be a grey value or an RGB triple in 0..255, got {fill!r}")
    for key in ("shard_size", "workers"):
        cc.check_positive_int(config, f"anonymize.{key}")
    cc.check_nonnegative_int(config, "anonymize.stats_images")
    for key in ("keep_empty", "materialize", "materialize_original", "opaque_names"):
        cc.check_bool(config, f"anonymize.{key}")
    check_detector_settings(config)


def check_detector_settings(config: ml_collections.ConfigDict) -> None:
    """Check the settings of every detector selected in ``anonymize.detectors`` (the others are unused)."""
    kinds = cc.as_tuple(cc.get(config, "anonymize.detectors"))
    checks = {"faces": _check_faces, "text": _check_text, "codes": _check_codes}
    for kind in (k for k in checks if k in kinds):
        _check_known_keys(config, f"anonymize.{kind}", _KNOWN[kind])
        checks[kind](config, f"anonymize.{kind}")


def _check_faces(config: ml_collections.ConfigDict, prefix: str) -> None:
    cc.check_positive_int(config, f"{prefix}.min_face_size")
    thresholds = cc.as_tuple(cc.get(config, f"{prefix}.thresholds"))
    if len(thresholds) != 3 or not all(_is_real(t) and 0 <= t <= 1 for t in thresholds):
        raise cc.ConfigError(f"{prefix}.thresholds", f"must be 3 scores in [0, 1] (P-, R-, O-Net), got {thresholds!r}")
    _number(config, f"{prefix}.scale_factor", lambda v: 0 < v < 1,
            "must be in (0, 1) (the pyramid shrinks by this factor per level)")
    _number(config, f"{prefix}.min_score", lambda v: 0 <= v <= 1, "must be a score in [0, 1]")
    _number(config, f"{prefix}.margin", lambda v: v >= 0, "must be >= 0 (a negative margin shrinks the boxes)")


def _check_text(config: ml_collections.ConfigDict, prefix: str) -> None:
    cc.check_choice(config, f"{prefix}.limit_type", ("min", "max"))
    cc.check_positive_int(config, f"{prefix}.limit_side_len")
    cc.check_positive_int(config, f"{prefix}.max_candidates")
    for key in ("thresh", "box_thresh"):
        _number(config, f"{prefix}.{key}", lambda v: 0 <= v <= 1, "must be a probability in [0, 1]")
    _number(config, f"{prefix}.unclip_ratio", lambda v: v > 0, "must be > 0")
    _number(config, f"{prefix}.margin", lambda v: v >= 0, "must be >= 0 (a negative margin shrinks the boxes)")
    _flag(config, f"{prefix}.use_dilation")
    if cc.get(config, f"{prefix}.model_path"):
        cc.check_path(config, f"{prefix}.model_path", kind="file", local_only=True)
    else:
        try:
            default_model_path()  # downloads it on first use, so that an offline machine stops here
        except (FileNotFoundError, ValueError) as e:
            raise cc.ConfigError(f"{prefix}.model_path", str(e)) from None


def _check_codes(config: ml_collections.ConfigDict, prefix: str) -> None:
    barcodes, qr_codes = _flag(config, f"{prefix}.barcodes"), _flag(config, f"{prefix}.qr_codes")
    if not (barcodes or qr_codes):
        raise cc.ConfigError(prefix, "turns off both barcodes and qr_codes: remove 'codes' from anonymize.detectors")


def _check_known_keys(config: ml_collections.ConfigDict, prefix: str, known: set[str]) -> None:
    """Every setting is a keyword the detector takes (a typo would otherwise stop the detector mid-run)."""
    unknown = sorted(set(cc.get(config, prefix).keys()) - known)
    if unknown:
        raise cc.ConfigError(f"{prefix}.{unknown[0]}", f"is not a setting of this detector; known: {sorted(known)}")


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(config: ml_collections.ConfigDict, key: str, ok: Callable[[float], bool], requirement: str) -> float:
    """A finite number (not a bool) for which ``ok`` holds."""
    value = cc.get(config, key)
    if not _is_real(value) or not ok(value):
        raise cc.ConfigError(key, f"{requirement}, got {value!r}")
    return float(value)


def _flag(config: ml_collections.ConfigDict, key: str) -> bool:
    value = cc.get(config, key)
    if not isinstance(value, bool):
        raise cc.ConfigError(key, f"must be True or False, got {value!r}")
    return value
