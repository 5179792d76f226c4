"""Shared tiny models for the backbone tests (session-scoped so each is built once)."""

import jax
import numpy as np
import pytest

from anonjax.models import dinov2


@pytest.fixture(scope="session")
def tiny():
    cfg = dinov2.config("vit_tiny14")
    return cfg, dinov2.init(jax.random.key(0), cfg)


@pytest.fixture(scope="session")
def tiny_reg():
    cfg = dinov2.config("vit_tiny14_reg4")
    return cfg, dinov2.init(jax.random.key(1), cfg)


@pytest.fixture(scope="session")
def make_images():
    """``make_images(n, height, width, seed=0)``: standard-normal NHWC float32 images."""

    def make(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((n, height, width, 3)).astype(np.float32)

    return make
