"""A user's own image folder, the DOKIQ case: faces, text, machine-readable zones, barcodes and QR codes
all anonymized (degree 100%, the worst case of the paper's Tab. IV), every method and adaptation, one control.

    python -m anonjax.main --config ml_collections_configs/folder.py --workdir runs/cases \
        --config.data.root=/data/cases

``data.root`` has one sub-folder per class (``root/<class>/*.{png,jpg,jpeg,tif,tiff}``) and optionally
``root/splits/{train,val,test}.txt``. A folder is a retrieval database: retrieval is evaluated on all of its
images (the self-supervised training uses no labels), while the probes are fitted on ``train`` and tested on
``val``. Images are fitted into a 224 px canvas and embedded at 224 px, so that text stays legible where the model
looks. The model is small so that the study also runs on a CPU machine; for a GPU use the official recipe, e.g.
``--config.train.model=vitl14 --config.train.batch_size=256 --config.train.canvas_size=512
--config.train.crops.global_size=224 --config.train.crops.local_size=98`` (or start from
``ml_collections_configs/rvl_cdip.py``).
"""

import ml_collections

from configs import data, study


def get_config() -> ml_collections.ConfigDict:
    config = study.base(methods=("pixel", "blur", "mask"), degrees=(1.0,), detectors=("faces", "text", "codes"),
                        training_preset="tiny", workdir="runs/folder")
    config.data = data.folder()
    config.train.canvas_size = 224
    config.embed.image_size = 224
    config.anonymize.splits = ("train", "val", "test")
    config.embed.splits = ("train", "val", "test")
    config.evaluate.split = "all"
    return config
