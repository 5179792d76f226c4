"""Text detection with PP-OCRv3's DB model (Differentiable Binarization), run by onnxruntime.

The default weights are ``ch_PP-OCRv3_det_infer.onnx``: the file in the ``rapidocr-onnxruntime`` 1.2.x wheel
where that is installed (it installs only below Python 3.12), otherwise the same bytes downloaded once from a
pinned URL and SHA-256 (``DEFAULT_RELEASE``) into ``$ANONJAX_CACHE/ppocr``. Any PP-OCR detection model exported
to ONNX (a newer PP-OCRv4/v5 det file) can be named with ``model_path``.
Pre- and post-processing follow PaddleOCR's DB pipeline: the image (BGR, as PaddleOCR trains) is resized
so its shorter side is ``limit_side_len`` (sides rounded to multiples of 32) and normalized with ImageNet
statistics; the probability map is thresholded at ``thresh``, dilated, and every connected region gives
a minimum-area rectangle kept when the mean probability inside it reaches ``box_thresh``; the rectangle
is grown by ``area * unclip_ratio / perimeter`` on each side (what the polygon offset of PaddleOCR does
to a rectangle), mapped back to the image and returned as its axis-aligned bounding box.

Every region is filtered before ``max_candidates`` is applied, and an image with more text regions than
that is an error (the detection cache then leaves it out): a dense page is never half anonymized.

The model's input holds at most ``max_pixels`` pixels (``data.max_pixels``): its memory grows with the
area, and ``limit_type="min"`` would blow a thin strip up by its short side (a 16 x 4000 strip to 736 x 184,000).
Such an image is detected at the largest scale that fits; one that does not fit even at its own scale is an
error (detected shrunk, small text could be missed), so the detection cache leaves it out.

DB boxes can end on the last column of a glyph's anti-aliased ink, so every box is grown by ``margin``
times its height on each side (default 0.1, about two pixels on a 17-pixel line); 0 gives PaddleOCR's boxes.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import cv2
import numpy as np

from anonjax import downloads
from anonjax.anonymize.boxes import check_image, clean_boxes
from anonjax.anonymize.model_files import model_record, package_version
from anonjax.data.image_io import DEFAULT_MAX_PIXELS
from anonjax.data.transforms import normalize

DEFAULT_MODEL = "ch_PP-OCRv3_det_infer.onnx"
# RapidOCR's ONNX export of PaddleOCR's PP-OCRv3 detector (byte for byte the file in the rapidocr-onnxruntime
# 1.2.x wheel), at a fixed revision of SWHL/RapidOCR, the Hugging Face repository of RapidOCR's ONNX models.
DEFAULT_RELEASE = downloads.Release(
    "https://huggingface.co/SWHL/RapidOCR/resolve/1cfba2e90fc938db55889873735088de210cc173/PP-OCRv3/"
    + DEFAULT_MODEL,
    "3439588c030faea393a54515f51e983d8e155b19a2e8aba7891934c1cf0de526",
)
_MIN_SIDE = 3


def default_model_path() -> Path:
    """The PP-OCRv3 detection model: the rapidocr-onnxruntime wheel's file, else the cached pinned download.

    The download happens on first use; FileNotFoundError when it fails (naming both ways to provide a model
    instead), ValueError when the download or the cached file does not have the pinned SHA-256.
    """
    shipped = _shipped_model()
    if shipped is not None:
        return shipped
    return downloads.fetch(
        DEFAULT_RELEASE,
        downloads.cache_root() / "ppocr" / DEFAULT_MODEL,
        instead="set anonymize.text.model_path to a PP-OCR detection model in ONNX format (such as PP-OCRv4's "
        "ch_PP-OCRv4_det_mobile.onnx, see the README)",
    )


def _shipped_model() -> Path | None:
    """``ch_PP-OCRv3_det_infer.onnx`` inside an installed rapidocr-onnxruntime (1.2.x ships it), or None."""
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / DEFAULT_MODEL
    return path if path.is_file() else None


class TextDetector:
    """PP-OCR DB text boxes of a uint8 RGB image as clipped int32 xyxy boxes and their mean probability.

    ``threads`` is onnxruntime's intra-op thread count (0: one per core); the default of 1 suits the
    detection cache, which runs one detector per process. ``max_pixels`` bounds the model's input.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        limit_side_len: int = 736,
        limit_type: str = "min",
        thresh: float = 0.3,
        box_thresh: float = 0.5,
        unclip_ratio: float = 1.6,
        max_candidates: int = 1000,
        use_dilation: bool = True,
        margin: float = 0.1,
        threads: int = 1,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ):
        import onnxruntime as ort

        if limit_type not in ("min", "max"):
            raise ValueError(f"limit_type must be 'min' or 'max', got {limit_type!r}")
        for name, value in (("thresh", thresh), ("box_thresh", box_thresh)):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        if not 0 < unclip_ratio < float("inf"):
            raise ValueError(f"unclip_ratio must be > 0, got {unclip_ratio!r}")
        if not max_candidates >= 1:
            raise ValueError(f"max_candidates must be >= 1, got {max_candidates!r}")
        if not 0 <= margin < float("inf"):
            raise ValueError(f"margin must be >= 0 (a negative margin shrinks the boxes), got {margin!r}")
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.is_file():
            raise FileNotFoundError(f"text detection model {str(self.model_path)!r} does not exist")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self.limit_side_len, self.limit_type = int(limit_side_len), limit_type
        self.thresh, self.box_thresh, self.unclip_ratio = float(thresh), float(box_thresh), float(unclip_ratio)
        self.max_candidates, self.use_dilation = int(max_candidates), bool(use_dilation)
        self.margin = float(margin)
        self.max_pixels = int(max_pixels)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        image = check_image(image)
        height, width = image.shape[:2]
        resized = self._resize(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        x = normalize(resized).transpose(2, 0, 1)[None]  # ImageNet statistics on BGR, as PaddleOCR trains
        prob = self._session.run(None, {self._input: x})[0][0, 0]
        boxes, scores = self._boxes(prob, height, width)
        grow = self.margin * (boxes[:, 3] - boxes[:, 1])[:, None]
        boxes = np.concatenate([boxes[:, :2] - grow, boxes[:, 2:] + grow], axis=1)
        return clean_boxes(boxes, scores, height, width)

    def _resize(self, image: np.ndarray) -> np.ndarray:
        new_h, new_w = self._input_size(*image.shape[:2])
        return cv2.resize(image, (new_w, new_h))

    def _input_size(self, h: int, w: int) -> tuple[int, int]:
        """The model input's (height, width): PaddleOCR's rule, scaled down to at most ``max_pixels`` pixels."""
        side = min(h, w) if self.limit_type == "min" else max(h, w)
        grow = side < self.limit_side_len if self.limit_type == "min" else side > self.limit_side_len
        ratio = self.limit_side_len / side if grow else 1.0
        new_h, new_w = (max(round(int(n * ratio) / 32) * 32, 32) for n in (h, w))
        if new_h * new_w <= self.max_pixels:
            return new_h, new_w
        ratio = math.sqrt(self.max_pixels / (h * w))
        new_h, new_w = (max(int(n * ratio) // 32 * 32, 32) for n in (h, w))
        if h * w > self.max_pixels or new_h * new_w > self.max_pixels:
            raise ValueError(f"the text model's input for this {w}x{h} image would hold more than data.max_pixels = "
                             f"{self.max_pixels} pixels even at the image's own scale; the image is left out")
        return new_h, new_w

    def _boxes(self, prob: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        bitmap = (prob > self.thresh).astype(np.uint8)
        if self.use_dilation:
            bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        scale = np.array([width / prob.shape[1], height / prob.shape[0]])
        boxes, scores = [], []
        for contour in contours:
            center, (rw, rh), angle = cv2.minAreaRect(contour)
            if min(rw, rh) < _MIN_SIDE:
                continue
            corners = cv2.boxPoints((center, (rw, rh), angle))
            score = _mean_inside(prob, corners)
            if score < self.box_thresh:
                continue
            grow = rw * rh * self.unclip_ratio / (2 * (rw + rh))
            if min(rw, rh) + 2 * grow < _MIN_SIDE + 2:
                continue
            grown = cv2.boxPoints((center, (rw + 2 * grow, rh + 2 * grow), angle))
            points = np.round(grown * scale)
            points = np.clip(points, 0, [width - 1, height - 1])
            x0, y0 = points.min(0)
            x1, y1 = points.max(0) + 1
            if x1 - x0 <= _MIN_SIDE + 1 or y1 - y0 <= _MIN_SIDE + 1:
                continue
            boxes.append([x0, y0, x1, y1])
            scores.append(score)
        if len(boxes) > self.max_candidates:  # fail closed: never keep some text regions and drop the rest
            raise ValueError(f"{len(boxes)} text regions, more than max_candidates = {self.max_candidates}; the "
                             "image is left out (raise anonymize.text.max_candidates to anonymize it)")
        return np.array(boxes, np.float64).reshape(-1, 4), np.array(scores, np.float64)

    def describe(self) -> dict:
        """Packages and the model file that ran, for the run's report."""
        return {"backend": "onnxruntime " + package_version("onnxruntime"),
                "rapidocr-onnxruntime": package_version("rapidocr-onnxruntime"),
                "models": [model_record(self.model_path)]}


def _mean_inside(prob: np.ndarray, corners: np.ndarray) -> float:
    """Mean of ``prob`` inside the quadrilateral ``corners`` (the score DB gives a box)."""
    h, w = prob.shape
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int), 0, [w - 1, h - 1])
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [(corners - [x0, y0]).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


@functools.cache
def _default() -> TextDetector:
    return TextDetector()


def detect_text(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PP-OCRv3 DB text detection with PaddleOCR's default settings: (boxes int32 [n, 4], scores [n])."""
    return _default()(image)
