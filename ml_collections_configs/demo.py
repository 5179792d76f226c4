"""The whole study, offline, on a CPU: built-in synthetic documents, a tiny ViT, all three methods at
50% and 100%, the Unadapted model and adaptations A, B and C; then embeddings, every scenario, probes,
correlations and the report.

    python -m anonjax.main --config ml_collections_configs/demo.py --workdir workdir/demo
"""

import ml_collections

from configs import anonymization, data, embedding, evaluation, training


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.workdir = "workdir/demo"
    config.stages = "anonymize,train,embed,evaluate,report"
    config.grid = ml_collections.ConfigDict(
        dict(methods=("pixel", "blur", "mask"), degrees=(0.5, 1.0), adaptations=("A", "B", "C"))
    )
    config.data = data.synthetic(train=480, val=160, test=0)

    config.anonymize = anonymization.get_config(detectors=("faces", "text", "codes"))
    config.anonymize.methods = config.grid.get_ref("methods")
    config.anonymize.degrees = config.grid.get_ref("degrees")
    config.anonymize.stats_images = 16

    config.train = training.get_config("tiny")

    config.embed = embedding.get_config()
    config.embed.image_size = 64
    config.embed.batch_size = 32
    config.embed.attention_images = 3

    config.evaluate = evaluation.get_config()
    return config
