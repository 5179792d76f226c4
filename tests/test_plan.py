"""The study plan: controls beside the Unadapted model, and a seed per model."""

import ml_collections
import pytest

from anonjax.config_checks import ConfigError
from anonjax.plan import Variant, study_plan, validate_grid


def _config(controls=2, seed=0):
    return ml_collections.ConfigDict(dict(seed=seed, grid=dict(methods=("pixel", "mask"), degrees=(0.5, 1.0),
                                                               adaptations=("A", "C"), controls=controls)))


def test_controls_follow_the_unadapted_model_and_are_scored_everywhere():
    plan = study_plan(_config())
    names = [m.name for m in plan.models]
    assert names[:3] == ["unadapted", "control", "control2"] and len(names) == 3 + 2 * 4
    assert [m.row_name for m in plan.models[:4]] == ["unadapted", "control", "control2", "A"]
    control = plan.controls[0]
    assert control.on_original and not control.unadapted and control.recipe == "unadapted"
    assert plan.embedded_variants(control) == plan.embedded_variants(plan.unadapted)
    pixel = Variant("pixel", 1.0)
    assert [m.name for m in plan.scored(pixel)] == ["unadapted", "control", "control2", "A_pixel_100", "C_pixel_100"]
    assert [m.name for m in plan.adapted(pixel)] == ["A_pixel_100", "C_pixel_100"]
    assert study_plan(_config(controls=0)).controls == ()


def test_every_model_has_its_own_reproducible_seed():
    models = study_plan(_config()).models
    seeds = [m.seed(7) for m in models]
    assert seeds[0] == 7  # the Unadapted model keeps train.seed, so its ground truth stays valid
    assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**31 for s in seeds)
    assert seeds == [m.seed(7) for m in study_plan(_config()).models]  # the same on every run
    assert [m.seed(8) for m in models][1:] != seeds[1:]  # and a function of the base seed
    # A model's seed does not depend on the rest of the grid.
    assert study_plan(_config(controls=1)).models[1].seed(7) == seeds[1]


def test_the_number_of_controls_is_checked():
    config = _config(controls=-1)
    with pytest.raises(ConfigError, match=r"grid\.controls: must be an integer >= 0"):
        validate_grid(config)


def test_adapted_models_can_be_limited_to_some_degrees():
    config = _config(controls=1)
    config.grid.adapted_degrees = (1.0,)
    validate_grid(config)
    assert [m.name for m in study_plan(config).models] == [
        "unadapted", "control", "A_pixel_100", "A_mask_100", "C_pixel_100", "C_mask_100"]
    config.grid.adapted_degrees = (0.75,)
    with pytest.raises(ConfigError, match=r"grid.adapted_degrees: lists \[0.75\], not among grid.degrees"):
        validate_grid(config)
