"""CPU-only compiler options reach only CPU compiles."""

import jax
import jax.numpy as jnp
import numpy as np

from anonjax.models import vit


def test_gpu_and_tpu_option_sets_hold_no_cpu_option():
    for backend in ("gpu", "cuda", "rocm", "tpu"):
        options = vit.compiler_options(backend)
        assert not [k for k in options if k.startswith("xla_cpu_")], backend
    assert "xla_cpu_experimental_ynn_fusion_type" in vit.compiler_options("cpu")


def test_the_default_backend_compiles_with_its_options():
    options = vit.compiler_options()
    assert options == vit.compiler_options(jax.default_backend())
    compiled = jax.jit(lambda x: x @ x.T).lower(jnp.ones((4, 3))).compile(options)
    np.testing.assert_allclose(compiled(jnp.ones((4, 3))), 3.0)
