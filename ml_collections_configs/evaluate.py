"""Evaluate embeddings that a user brings (or the built-in set): every scenario, probes and correlations in
``results/``, rendered as ``report/index.html`` and ``report/report.md``.

    python -m anonjax.main --config ml_collections_configs/evaluate.py --workdir runs/eval
    python -m anonjax.main --config ml_collections_configs/evaluate.py \
        --config.evaluate.embeddings=/data/my_embeddings --config.grid.degrees=0.5,1.0

The embeddings directory layout is described in the README ("Bring your own embeddings").
"""

import ml_collections

from configs import evaluation


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.workdir = "workdir/evaluate"
    config.stages = "evaluate,report"
    config.grid = ml_collections.ConfigDict(
        dict(methods=("pixel", "blur", "mask"), degrees=(1.0,), adaptations=("A", "B", "C"), controls=1)
    )
    config.evaluate = evaluation.get_config()
    config.evaluate.embeddings = "builtin"
    return config
