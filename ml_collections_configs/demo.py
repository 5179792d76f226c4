"""The whole study, offline, on a CPU: built-in synthetic documents, a tiny ViT, all three methods at 50% and
100%, the Unadapted model, one control and adaptations A, B and C (trained for 100% only, to fit the CPU budget);
then embeddings, every scenario with its chance level, probes, correlations, what the anonymized validation pages
still give away (the privacy stage, on a seeded sample of 32 of the 128: OCR takes seconds per page, and each page
is read in 7 versions) and the report.

    python -m anonjax.main --config ml_collections_configs/demo.py --workdir workdir/demo

The sizes are chosen so that the anonymization is visible where the model looks: pages (384 x 512) are fitted
into a 256 px canvas and embedded at 256 px, so the median text box is 10 px tall at the model's input, and
pixelation uses two cells across a box's shorter side, so that every cell of a text line holds ink and the whole
box changes (with four, the blank bands above and below the letters stay as they were: a quarter of the box).
The anonymize stage measures both. Retrieval runs on all 448 images (k = 22). The numbers demonstrate the
pipeline at toy scale.
"""

import ml_collections

from configs import data, study


def get_config() -> ml_collections.ConfigDict:
    config = study.base(methods=("pixel", "blur", "mask"), degrees=(0.5, 1.0), detectors=("faces", "text", "codes"),
                        training_preset="tiny", workdir="workdir/demo")
    config.grid.adapted_degrees = (1.0,)
    config.data = data.synthetic(train=320, val=128, test=0)
    config.anonymize.stats_images = 16
    config.anonymize.privacy_images = 32  # about a quarter of the OCR time of all 128 (docs/privacy_measures.md)
    config.anonymize.text.limit_type = "max"  # pages are 384 x 512: detect at their own size, no upscaling
    config.anonymize.text.limit_side_len = 512
    config.anonymize.pixel.cells = 2
    config.train.epochs = 6  # 180 steps of 32 images per model: 11 models fit the CPU budget
    config.train.canvas_size = 256
    config.embed.image_size = 256
    config.embed.batch_size = 32
    config.embed.attention_images = 3
    config.evaluate.split = "all"
    return config
