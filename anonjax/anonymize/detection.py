"""The detectors a study runs, as one callable: faces, text and codes of an image, boxes tagged by kind.

Every detector reads the image with its levels equalized (``contrast.equalize_levels``), so what a contrast
stretch would make readable is detected, however dark or faint it is in the pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from anonjax.anonymize.boxes import check_image
from anonjax.anonymize.contrast import equalize_levels
from anonjax.data.image_io import DEFAULT_MAX_PIXELS

KINDS = ("faces", "text", "codes")
DETECTOR_INPUT = "levels equalized"  # what the detectors read; part of the detection cache's fingerprint


class Detections(NamedTuple):
    """Boxes of one image from all detectors: int32 [n, 4] xyxy, float32 scores [n], int8 kinds [n]
    (index into ``KINDS``)."""

    boxes: np.ndarray
    scores: np.ndarray
    kinds: np.ndarray


class Detectors:
    """Runs the detectors named in ``kinds`` with their settings (keyword arguments of ``FaceDetector``,
    ``TextDetector`` and ``CodeDetector``) and concatenates their boxes in ``KINDS`` order.

    ``threads`` is the text model's onnxruntime thread count (0: one per core); ``max_pixels``
    (``data.max_pixels``) bounds what the face and text models are given.
    """

    def __init__(self, kinds: Sequence[str], settings: Mapping[str, Mapping[str, Any]] | None = None,
                 threads: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS):
        from anonjax.anonymize.codes import CodeDetector
        from anonjax.anonymize.faces import FaceDetector
        from anonjax.anonymize.text import TextDetector

        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or not kinds:
            raise ValueError(f"detectors must be a non-empty selection of {KINDS}, got {tuple(kinds)}")
        settings = settings or {}
        make = {"faces": lambda s: FaceDetector(**s, max_pixels=max_pixels),
                "text": lambda s: TextDetector(**{"threads": threads, **s}, max_pixels=max_pixels),
                "codes": lambda s: CodeDetector(**s)}
        self.kinds = tuple(k for k in KINDS if k in kinds)
        self._detectors = {k: make[k](dict(settings.get(k, {}))) for k in self.kinds}

    def __call__(self, image: np.ndarray) -> Detections:
        image = equalize_levels(check_image(image))
        boxes, scores, kinds = [], [], []
        for kind, detect in self._detectors.items():
            b, s = detect(image)
            boxes.append(b)
            scores.append(s)
            kinds.append(np.full(len(b), KINDS.index(kind), np.int8))
        return Detections(np.concatenate(boxes).astype(np.int32).reshape(-1, 4),
                          np.concatenate(scores).astype(np.float32), np.concatenate(kinds))

    def describe(self) -> dict:
        """Per detector: backend, package versions and model files with SHA-256."""
        return {kind: detect.describe() for kind, detect in self._detectors.items()}
