"""The paper's CelebA grid: MTCNN faces, pixelation/blur/mask of every face, DINOv2 ViT-L/14 trained as the
Unadapted model and adaptations A, B, C; gender (``Male``) for the probes.

    python -m anonjax.main --config ml_collections_configs/celeba.py --workdir runs/celeba \
        --config.data.root=/data/celeba

``data.root`` holds the official files (``img_align_celeba/``, ``list_eval_partition.txt``,
``list_attr_celeba.txt``); ``--config.data.celeba_format=tfds`` reads the TFDS ``celeb_a`` builder instead.
Sized for accelerators (global batch 1024, bfloat16); see the README for GPU and TPU-pod launches.
"""

import ml_collections

from configs import data, study


def get_config() -> ml_collections.ConfigDict:
    config = study.base(methods=("pixel", "blur", "mask"), degrees=(1.0,), detectors=("faces",),
                        training_preset="official", workdir="runs/celeba")
    config.data = data.celeba()
    config.embed.dtype = "bfloat16"
    config.embed.batch_size = 256
    return config
