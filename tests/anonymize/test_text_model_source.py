"""Where the default PP-OCRv3 text model comes from: the rapidocr-onnxruntime wheel where it installs (Python
< 3.12), otherwise a pinned download cached once. Downloads here read local file:// URLs only."""

import hashlib
import importlib.util
import shutil
from pathlib import Path

import ml_collections
import pytest

from anonjax import downloads
from anonjax.anonymize import text
from anonjax.anonymize.settings_checks import check_detector_settings
from anonjax.config_checks import ConfigError
from configs import anonymization


def _wheel_model():
    """The model file of the installed rapidocr-onnxruntime wheel (skips where it does not install)."""
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    return Path(rapidocr.__path__[0]) / "models" / text.DEFAULT_MODEL


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """An empty download cache."""
    monkeypatch.setenv("ANONJAX_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ppocr"


@pytest.fixture()
def no_wheel(cache, monkeypatch):
    """rapidocr-onnxruntime not installed, as on Python >= 3.12."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rapidocr_onnxruntime" else find_spec(name, *a)
    )
    return cache


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """A stand-in model file published at a file:// URL and pinned with its SHA-256."""
    source = tmp_path / "server" / text.DEFAULT_MODEL
    source.parent.mkdir()
    source.write_bytes(b"stand-in for the onnx model" * 1000)
    monkeypatch.setattr(text, "DEFAULT_RELEASE", downloads.Release(source.as_uri(), _sha256(source)))
    return source


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(directory):
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def test_installed_wheel_model_is_used_without_download(cache, tmp_path, monkeypatch):
    wheel = _wheel_model()
    unreachable = downloads.Release((tmp_path / "nowhere.onnx").as_uri(), text.DEFAULT_RELEASE.sha256)
    monkeypatch.setattr(text, "DEFAULT_RELEASE", unreachable)
    assert text.default_model_path() == wheel
    assert _files(cache.parent) == []


def test_pinned_download_is_the_wheel_model(no_wheel, tmp_path, monkeypatch):
    source = tmp_path / "server" / text.DEFAULT_MODEL
    source.parent.mkdir()
    shutil.copyfile(_wheel_model(), source)
    monkeypatch.setattr(text, "DEFAULT_RELEASE", downloads.Release(source.as_uri(), text.DEFAULT_RELEASE.sha256))
    path = text.default_model_path()
    assert path == no_wheel / text.DEFAULT_MODEL
    assert path.read_bytes() == source.read_bytes()


def test_pinned_url_names_the_default_model():
    assert text.DEFAULT_RELEASE.url.startswith("https://")
    assert text.DEFAULT_RELEASE.url.endswith("/PP-OCRv3/" + text.DEFAULT_MODEL)
    assert len(text.DEFAULT_RELEASE.sha256) == 64


def test_without_the_wheel_the_model_is_downloaded_once(no_wheel, served):
    path = text.default_model_path()
    assert path == no_wheel / text.DEFAULT_MODEL
    assert path.read_bytes() == served.read_bytes()
    served.unlink()  # a second use must not download again
    assert text.default_model_path() == path
    assert _files(no_wheel) == [path]


def test_corrupt_cached_model_is_refused(no_wheel, served):
    path = text.default_model_path()
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=f"cached file {path} has SHA-256 .* delete it to download it again"):
        text.default_model_path()


def test_download_with_wrong_digest_keeps_nothing(no_wheel, served, monkeypatch):
    monkeypatch.setattr(text, "DEFAULT_RELEASE", downloads.Release(served.as_uri(), "0" * 64))
    with pytest.raises(ValueError, match="not kept"):
        text.default_model_path()
    assert _files(no_wheel) == []


def test_failed_download_names_both_ways(no_wheel, tmp_path, monkeypatch):
    missing = (tmp_path / "nowhere" / text.DEFAULT_MODEL).as_uri()
    monkeypatch.setattr(text, "DEFAULT_RELEASE", downloads.Release(missing, "0" * 64))
    with pytest.raises(FileNotFoundError) as caught:
        text.default_model_path()
    message = str(caught.value)
    assert f"cannot download {missing}" in message
    assert f"put it at {no_wheel / text.DEFAULT_MODEL}" in message
    assert "anonymize.text.model_path" in message and "PP-OCRv4" in message
    assert _files(no_wheel) == []


def test_settings_check_stops_on_a_failed_download(no_wheel, tmp_path, monkeypatch):
    missing = (tmp_path / "nowhere" / text.DEFAULT_MODEL).as_uri()
    monkeypatch.setattr(text, "DEFAULT_RELEASE", downloads.Release(missing, "0" * 64))
    config = ml_collections.ConfigDict({"anonymize": anonymization.get_config(detectors=("text",))})
    with pytest.raises(ConfigError, match=r"anonymize\.text\.model_path: cannot download .* PP-OCRv4"):
        check_detector_settings(config)
