"""Test session set-up, before jax is imported: 8 simulated CPU devices so that sharded code runs on one
machine, and a faster, less optimizing XLA compile (tests are dominated by compile time, not run time)."""

import os

os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0 "
    "--xla_llvm_disable_expensive_passes=true",
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
