"""The paper's RVL-CDIP grid: PP-OCRv3 text boxes, pixelation/blur/mask of 25/50/75/100% of them, DINOv2
ViT-L/14 trained as the Unadapted model and adaptations A, B, C; the 16 document classes for the probes.

    python -m anonjax.main --config ml_collections_configs/rvl_cdip.py --workdir runs/rvl_cdip \
        --config.data.root=/data/rvl-cdip

``data.root`` holds the archive layout (``images/``, ``labels/{train,val,test}.txt``). Sized for
accelerators (global batch 1024, bfloat16); see the README for GPU and TPU-pod launches.
"""

import ml_collections

from configs import data, study


def get_config() -> ml_collections.ConfigDict:
    config = study.base(methods=("pixel", "blur", "mask"), degrees=(0.25, 0.5, 0.75, 1.0), detectors=("text",),
                        training_preset="official", workdir="runs/rvl_cdip")
    config.data = data.rvl_cdip()
    config.embed.dtype = "bfloat16"
    config.embed.batch_size = 256
    return config
