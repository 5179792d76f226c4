"""Faces an anonymized image still shows to a face detector.

The original's faces (the detector's boxes on the original image, or boxes given, e.g. drawn ground truth)
count as still detected when the same detector finds a box with IoU >= 0.5 on the anonymized image, one
detection per face. The detector keeps its own confidence thresholds (MTCNN's P/R/O-Net thresholds and
``min_score`` of ``FaceDetector``): a face counts as found exactly when the study's detector would find it.
"""

from __future__ import annotations

import numpy as np

from anonjax.privacy.box_overlap import matches
from anonjax.privacy.outcome import Measured, Missing, Outcome, Ratio, first_missing

MATCH_IOU = 0.5


def faces_still_found(original: np.ndarray, anonymized: np.ndarray, threshold: float = MATCH_IOU) -> Ratio:
    """Original face boxes [n, 4] matched by anonymized-image detections [m, 4] at IoU >= ``threshold``."""
    found = matches(original, anonymized, threshold)
    return Ratio(int(found.sum()), len(found))


def face_survival(original: np.ndarray | Missing, anonymized: np.ndarray | Missing) -> Outcome:
    """``faces_still_found`` as an outcome (ratio ``faces``): missing when either detection failed."""
    missing = first_missing(original, anonymized)
    if missing is not None:
        return missing
    return Measured({"faces": faces_still_found(original, anonymized)})
