"""``train.micro_batch``: what it accepts, the sizes "auto" tries, and how micro-batches take rows."""

import numpy as np
import pytest
from tiny_study import tiny_train

from anonjax.config_checks import ConfigError
from anonjax.ssl import micro_batch


@pytest.mark.parametrize("value", [0, "auto", 4, "4", 8])
def test_accepted_settings(value):
    c = tiny_train()
    c.batch_size, c.group_size, c.micro_batch = 8, 2, value
    micro_batch.check(c)


@pytest.mark.parametrize(("value", "group", "message"), [
    (3, 1, "must divide train.batch_size=8"),
    (4, 0, "train.group_size > 0"),
    (2, 4, "multiple of train.group_size=4"),
    (-2, 2, '"auto"'),
    ("half", 2, '"auto"'),
])
def test_refused_settings_name_the_key(value, group, message):
    c = tiny_train()
    c.batch_size, c.group_size, c.micro_batch = 8, group, value
    with pytest.raises(ConfigError, match=r"train\.micro_batch") as error:
        micro_batch.check(c)
    assert message in str(error.value)


def test_auto_takes_the_largest_size_that_fits():
    assert micro_batch.candidates(1024, 32) == [1024, 512, 256, 128, 64, 32]
    assert micro_batch.largest_fitting(1024, 32, lambda m: m <= 300) == 256
    with pytest.raises(ValueError, match="no micro-batch"):
        micro_batch.largest_fitting(64, 32, lambda m: False)


def test_a_micro_batch_takes_whole_groups_from_every_device():
    rows = np.arange(16)  # 4 devices of 4 rows, groups of 2, micro-batches of 8
    spread = micro_batch.spread(16, 8, 2, 4)
    assert spread == 4
    parts = np.asarray(micro_batch.split(rows, 2, spread))
    np.testing.assert_array_equal(parts, [[0, 1, 4, 5, 8, 9, 12, 13], [2, 3, 6, 7, 10, 11, 14, 15]])
    np.testing.assert_array_equal(micro_batch.group_ids(8, 2, spread), [[0, 2, 4, 6], [1, 3, 5, 7]])
    # Groups of 4 rows span 2 devices of 4 rows: a micro-batch of 8 takes a group from each half of the batch.
    assert micro_batch.spread(16, 8, 4, 4) == 2
    np.testing.assert_array_equal(micro_batch.split(rows, 2, 2), [[0, 1, 2, 3, 8, 9, 10, 11],
                                                                  [4, 5, 6, 7, 12, 13, 14, 15]])


def test_a_compiler_that_refuses_the_program_means_it_does_not_fit():
    import jax

    def refused():
        raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Ran out of memory on HBM")

    assert not micro_batch.compiled_fits(refused, 16 * 2**30, lambda c: 0)
    compiled = jax.jit(lambda x: x + 1).lower(np.ones(4)).compile()
    assert micro_batch.compiled_fits(lambda: compiled, 100, lambda c: 90)
    assert not micro_batch.compiled_fits(lambda: compiled, 100, lambda c: 91)


@pytest.mark.parametrize(("micro", "group", "devices", "spans"),
                         [(64, 16, 4, False), (64, 32, 4, True), (512, 32, 64, True), (8, 0, 1, False),
                          (8, 0, 2, True)])
def test_a_group_spans_devices_where_a_device_holds_less_than_a_group(micro, group, devices, spans):
    assert micro_batch.groups_span_devices(micro, group, devices) is spans
