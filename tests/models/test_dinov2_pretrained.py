"""Loading checkpoints: local files, the download cache with checksums, offline and damaged files."""

import hashlib

import numpy as np
import pytest

from anonjax.models import dinov2, pretrained


def _same(a, b):
    import jax

    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def small():
    """A one-block ViT-S/14 with a 4 x 4 grid: a released width (so its config can be inferred), yet small."""
    import jax

    cfg = dinov2.config("vits14", depth=1, img_size=56)
    return cfg, dinov2.init(jax.random.key(0), cfg)


@pytest.fixture(scope="module")
def safetensors_file(small, tmp_path_factory):
    from safetensors.numpy import save_file

    cfg, params = small
    path = tmp_path_factory.mktemp("ckpt") / "small.safetensors"
    save_file(dinov2.params_to_torch(params, cfg), str(path))
    return path


def test_safetensors_file_round_trip_and_inferred_config(small, safetensors_file):
    cfg, params = small
    _same(dinov2.load_pretrained(safetensors_file, cfg), params)
    inferred = dinov2.checkpoint_config(safetensors_file)
    assert (inferred.embed_dim, inferred.depth, inferred.num_heads, inferred.pos_side) == (384, 1, 6, 4)
    assert (inferred.interpolate_offset, inferred.num_registers, inferred.ffn) == (0.1, 0, "mlp")
    _same(dinov2.load_pretrained(safetensors_file), params)


def test_pth_file_in_hf_naming_with_weights_only(small, tmp_path):
    torch = pytest.importorskip("torch")
    cfg, params = small
    path = tmp_path / "small.pth"
    sd = {k: torch.from_numpy(v) for k, v in dinov2.params_to_torch(params, cfg, naming="hf").items()}
    torch.save({"model": sd}, path)
    _same(dinov2.load_pretrained(path, cfg), params)


def test_truncated_and_foreign_files_are_refused(small, safetensors_file, tmp_path):
    cfg, _ = small
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(safetensors_file.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"cut\.safetensors is unreadable"):
        dinov2.load_pretrained(cut, cfg)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="unknown extension"):
        dinov2.load_pretrained(text, cfg)
    with pytest.raises(FileNotFoundError, match="neither a checkpoint file nor a released model"):
        dinov2.load_pretrained(tmp_path / "missing.pth", cfg)
    with pytest.raises(ValueError, match="does not match architecture vitl14"):
        dinov2.load_pretrained(safetensors_file, dinov2.config("vitl14"))


def test_truncated_pth_is_refused(small, tmp_path):
    torch = pytest.importorskip("torch")
    cfg, params = small
    path = tmp_path / "full.pth"
    torch.save({k: torch.from_numpy(v) for k, v in dinov2.params_to_torch(params, cfg).items()}, path)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut\.pth is unreadable"):
        dinov2.load_pretrained(cut, cfg)


@pytest.fixture()
def release(small, safetensors_file, tmp_path, monkeypatch):
    """The released name ``vits14`` pointed at a local file:// URL, with an empty cache."""
    cfg, _ = small
    source = tmp_path / "server" / "dinov2_vits14_pretrain.safetensors"
    source.parent.mkdir()
    source.write_bytes(safetensors_file.read_bytes())
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    monkeypatch.setenv("ANONJAX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pretrained, "config", lambda name: cfg)
    return source, digest


def test_download_once_with_pinned_checksum(release, small, monkeypatch):
    source, digest = release
    monkeypatch.setitem(pretrained.RELEASES, "vits14", pretrained.Release(source.as_uri(), digest))
    _, params = small
    _same(dinov2.load_pretrained("vits14"), params)
    cached = pretrained.cache_dir() / source.name
    assert cached.exists()
    source.unlink()  # a second load must not download again
    _same(dinov2.load_pretrained("vits14"), params)
    cached.write_bytes(cached.read_bytes()[:-1] + b"\0")  # the cache changed under us
    with pytest.raises(ValueError, match="delete it to download it again"):
        dinov2.load_pretrained("vits14")


def test_download_with_wrong_checksum_keeps_nothing(release, monkeypatch):
    source, _ = release
    monkeypatch.setitem(pretrained.RELEASES, "vits14", pretrained.Release(source.as_uri(), "0" * 64))
    with pytest.raises(ValueError, match="not kept"):
        dinov2.load_pretrained("vits14")
    assert not any(pretrained.cache_dir().iterdir())


def test_unpinned_release_records_the_first_digest(release, monkeypatch):
    source, digest = release
    monkeypatch.setitem(pretrained.RELEASES, "vits14", pretrained.Release(source.as_uri()))
    dinov2.load_pretrained("vits14")
    record = pretrained.cache_dir() / (source.name + ".sha256")
    assert record.read_text().strip() == digest
    cached = pretrained.cache_dir() / source.name
    cached.write_bytes(cached.read_bytes() + b"extra")
    with pytest.raises(ValueError, match="SHA-256"):
        dinov2.load_pretrained("vits14")


def test_offline_error_says_where_to_put_the_file(release, tmp_path, monkeypatch):
    missing = (tmp_path / "nowhere" / "dinov2_vits14_pretrain.pth").as_uri()
    monkeypatch.setitem(pretrained.RELEASES, "vits14", pretrained.Release(missing))
    with pytest.raises(FileNotFoundError, match=r"put it at .*cache/dinov2/dinov2_vits14_pretrain\.pth"):
        dinov2.load_pretrained("vits14")
    assert not any(p.suffix == ".tmp" for p in pretrained.cache_dir().glob("*"))


def test_released_names_point_at_the_official_files():
    assert set(pretrained.RELEASES) == {f"vit{s}14{r}" for s in "sblg" for r in ("", "_reg4")}
    assert pretrained.RELEASES["vitl14_reg4"].url.endswith("/dinov2_vitl14/dinov2_vitl14_reg4_pretrain.pth")
