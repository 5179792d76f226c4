"""``train.micro_batch="auto"`` takes the largest micro-batch whose compiled step fits the device memory."""

import jax
import pytest
from tiny_study import tiny_train

from anonjax import parallel
from anonjax.ssl import micro_batch
from anonjax.ssl.loop import compiled_programs, peak_bytes, program_key


@pytest.mark.slow  # compiles the train step at two micro-batch sizes
def test_auto_takes_the_largest_micro_batch_that_fits():
    mesh = parallel.make_mesh(devices=jax.devices()[:1])
    c = tiny_train()
    c.batch_size, c.group_size = 8, 2
    peaks = {}
    for micro in (8, 4):
        c.micro_batch = micro
        programs = compiled_programs(mesh, program_key(c))
        peaks[micro] = peak_bytes(programs.step.lower(programs.abstract_state, programs.abstract_views).compile())
    assert peaks[4] < peaks[8]
    c.micro_batch = "auto"
    between = (peaks[4] + peaks[8]) / 2 / micro_batch.FIT_FRACTION  # the whole batch does not fit, half of it does
    assert compiled_programs(mesh, program_key(c), None, int(between)).cfg.micro_batch == 4
    assert compiled_programs(mesh, program_key(c), None, 10 * peaks[8]).cfg.micro_batch == 0  # the whole batch
    assert compiled_programs(mesh, program_key(c)).cfg.micro_batch == 0  # a CPU does not say: the whole batch
