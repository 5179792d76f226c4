"""The whole study, offline, on a CPU: built-in synthetic documents, a tiny ViT, all three methods at
50% and 100%, the Unadapted model and adaptations A, B and C; then embeddings, every scenario, probes,
correlations and the report.

    python -m anonjax.main --config ml_collections_configs/demo.py --workdir workdir/demo
"""

import ml_collections

from configs import data, study


def get_config() -> ml_collections.ConfigDict:
    config = study.base(methods=("pixel", "blur", "mask"), degrees=(0.5, 1.0), detectors=("faces", "text", "codes"),
                        training_preset="tiny", workdir="workdir/demo")
    config.data = data.synthetic(train=320, val=128, test=0)
    config.anonymize.stats_images = 16
    config.anonymize.text.limit_type = "max"  # pages are 384 x 512: detect at their own size, no upscaling
    config.anonymize.text.limit_side_len = 512
    config.embed.image_size = 64
    config.embed.batch_size = 32
    config.embed.attention_images = 3
    return config
