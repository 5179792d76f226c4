"""An attention map's title holds an image id, which comes from a file name: ``$`` there is text, not TeX."""

import numpy as np
import pytest
from PIL import Image

from anonjax.models.attention_maps import render_attention


@pytest.mark.parametrize("image_id", ["a$b$c_{x}$.png", "cost$5_$6.png", "x$\\frac$.png", "$^$.png"])
def test_a_title_with_dollars_is_drawn_as_text(tmp_path, image_id):
    path = tmp_path / "map.png"
    render_attention(np.zeros((8, 8, 3), np.uint8), np.zeros((2, 2, 2), np.float32), path,
                     title=f"unadapted: {image_id} (original)")
    assert Image.open(path).size == (900, 300)
