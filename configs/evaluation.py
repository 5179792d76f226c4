"""Preset: the evaluation settings (``config.evaluate``) shared by every study."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        dict(
            embeddings="",  # a directory in the embeddings layout; "builtin"; or "" for <workdir>/embeddings
            split="val",  # queries and database: "train", "val", "test" or "all" (every embedded split)
            train_split="train",  # fitted by the downstream probes
            test_split="",  # the probes are tested on it; "": `split` ("val" when `split` is "all")
            fraction=0.05,  # the pseudo ground truth: top 5% of the Unadapted ranking on original data
            self_matches="auto",  # "keep", "exclude", or "auto": excluded when one is > 5% of the relevant set
            n_bootstrap=1000,
            probes=True,
            knn_k=20,
            knn_temperature=0.07,  # > 0; DINOv2's value
        )
    )
