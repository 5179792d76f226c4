"""Preset: how the embed stage computes embeddings (``config.embed``)."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        dict(
            splits=("train", "val"),  # val: queries and database; train: fitted by the downstream probes
            image_size=224,  # the whole image resized to a square of this side (documents are never cropped)
            batch_size=64,
            dtype="float32",  # or "bfloat16" on accelerators
            attention_images=4,  # validation images whose attention maps the report shows
            cache_mb=2048,  # a split's fitted images are read once for all models when they fit in this
        )
    )
