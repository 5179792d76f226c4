"""Detect and anonymize the built-in synthetic documents: the anonymize stage alone, offline.

    python -m anonjax.main --config ml_collections_configs/anonymize.py --workdir runs/anonymize
    python -m anonjax.main --config ml_collections_configs/anonymize.py --config.anonymize.materialize=True

Writes the detections (cached), ``anonymize/report.json`` and ``report.md`` (images kept and excluded per
split, boxes per image, anonymized area per method and degree, detector versions and model hashes) and
``anonymize/example_sheet.png``.
"""

import ml_collections

from configs import anonymization, data


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.workdir = "workdir/anonymize"
    config.stages = "anonymize"
    config.data = data.synthetic(train=96, val=32, test=32)
    config.anonymize = anonymization.get_config(detectors=("faces", "text", "codes"))
    config.anonymize.stats_images = 8
    return config
