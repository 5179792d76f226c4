"""Detector settings are checked before any work: each wrong value names its key, and the detectors refuse
values that would shrink boxes or never end."""

import re
import time

import ml_collections
import pytest

from anonjax.anonymize.faces import FaceDetector
from anonjax.anonymize.settings_checks import check_detector_settings
from anonjax.config_checks import ConfigError
from configs import anonymization

NAN, INF = float("nan"), float("inf")


def make_config(tmp_path, detectors=("faces", "text", "codes"), **overrides) -> ml_collections.ConfigDict:
    """The preset's defaults with a stand-in text model file, ``overrides`` as ``{"faces.margin": -1}``."""
    model = tmp_path / "det.onnx"
    model.write_bytes(b"")
    a = anonymization.get_config(detectors=detectors).to_dict()
    a["text"]["model_path"] = str(model)
    for key, value in overrides.items():
        kind, leaf = key.split(".")
        a[kind][leaf] = value
    return ml_collections.ConfigDict({"anonymize": a})


BAD = [
    ("faces.scale_factor", 1.0), ("faces.scale_factor", 0.0), ("faces.scale_factor", 1.5),
    ("faces.scale_factor", -0.1), ("faces.scale_factor", True), ("faces.scale_factor", "0.7"),
    ("faces.scale_factor", NAN),
    ("faces.margin", -0.3), ("faces.margin", INF), ("faces.margin", True),
    ("faces.min_score", 1.5), ("faces.min_score", -0.1), ("faces.min_score", NAN),
    ("faces.min_face_size", 0), ("faces.min_face_size", 2.5), ("faces.min_face_size", True),
    ("faces.thresholds", (0.6, 0.7)), ("faces.thresholds", (0.6, 0.7, 1.2)), ("faces.thresholds", (0.6, True, 0.7)),
    ("text.margin", -0.3), ("text.margin", NAN), ("text.margin", False),
    ("text.thresh", 1.5), ("text.thresh", -0.1), ("text.thresh", True),
    ("text.box_thresh", 2.0), ("text.box_thresh", "0.5"),
    ("text.unclip_ratio", 0.0), ("text.unclip_ratio", -1.0), ("text.unclip_ratio", INF),
    ("text.max_candidates", 0), ("text.max_candidates", 10.5), ("text.max_candidates", True),
    ("text.limit_side_len", 0), ("text.limit_side_len", 736.0), ("text.limit_type", "mid"),
    ("text.use_dilation", 1), ("text.use_dilation", "yes"),
    ("text.model_path", "/nonexistent/det.onnx"),
    ("codes.barcodes", 1), ("codes.qr_codes", "no"), ("codes.qr_codes", None),
]


@pytest.mark.parametrize(("key", "value"), BAD)
def test_bad_value_names_its_key(tmp_path, key, value):
    config = make_config(tmp_path, **{key: value})
    with pytest.raises(ConfigError, match="^" + re.escape(f"config.anonymize.{key}: ")) as e:
        check_detector_settings(config)
    assert e.value.key == f"anonymize.{key}"


def test_negative_text_margin_is_refused(tmp_path):
    """A negative margin would shrink every text box, so masked text would stay readable at its edges."""
    with pytest.raises(ConfigError, match=r"config\.anonymize\.text\.margin: must be >= 0 .*got -0\.3"):
        check_detector_settings(make_config(tmp_path, **{"text.margin": -0.3}))


def test_codes_need_barcodes_or_qr_codes(tmp_path):
    config = make_config(tmp_path, **{"codes.barcodes": False, "codes.qr_codes": False})
    with pytest.raises(ConfigError, match=r"^config\.anonymize\.codes: turns off both"):
        check_detector_settings(config)


def test_unknown_setting_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"^config\.anonymize\.faces\.scale: is not a setting"):
        check_detector_settings(make_config(tmp_path, **{"faces.scale": 0.7}))


def test_defaults_pass(tmp_path):
    check_detector_settings(make_config(tmp_path))
    check_detector_settings(make_config(tmp_path, **{"faces.margin": 0, "text.margin": 0, "faces.min_score": 1}))


def test_default_text_model_passes():
    pytest.importorskip("rapidocr_onnxruntime")
    check_detector_settings(ml_collections.ConfigDict({"anonymize": anonymization.get_config()}))


def test_settings_of_unselected_detectors_are_not_checked(tmp_path):
    config = make_config(tmp_path, detectors=("text",), **{"faces.scale_factor": 1.0, "codes.barcodes": "x"})
    check_detector_settings(config)


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("scale_factor", 1.0, "scale_factor must be in"), ("scale_factor", 0.0, "scale_factor must be in"),
    ("margin", -0.3, "margin must be >= 0"), ("margin", NAN, "margin must be >= 0"),
    ("min_score", 1.5, "min_score must be a score"),
])
def test_face_detector_refuses_bad_values(setting, value, message):
    with pytest.raises(ValueError, match=message):
        FaceDetector(**{setting: value})


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("margin", -0.3, "margin must be >= 0"), ("thresh", 1.5, "thresh must be a probability"),
    ("box_thresh", -0.1, "box_thresh must be a probability"), ("unclip_ratio", 0.0, "unclip_ratio must be > 0"),
    ("max_candidates", 0, "max_candidates must be >= 1"),
])
def test_text_detector_refuses_bad_values(setting, value, message):
    pytest.importorskip("onnxruntime")
    from anonjax.anonymize.text import TextDetector

    with pytest.raises(ValueError, match=message):
        TextDetector(model_path="/nonexistent/det.onnx", **{setting: value})


@pytest.mark.slow
@pytest.mark.parametrize(("override", "key"), [
    ("--config.anonymize.faces.scale_factor=1.0", "anonymize.faces.scale_factor"),
    ("--config.anonymize.text.margin=-0.3", "anonymize.text.margin"),
])
def test_command_line_stops_before_work(in_process, tmp_path, override, key):
    start = time.monotonic()
    result = in_process("--config=ml_collections_configs/demo.py", override, workdir=tmp_path / "w")
    assert time.monotonic() - start < 120
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: config.{key}: ")
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
