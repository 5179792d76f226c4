"""The scale a study's scores were measured at, and the warnings a reader must see first: a set too small to
separate settings, queries without a defined relevant set, and the "toy scale" rule (a demonstration, not a
measurement)."""

from __future__ import annotations

import logging

import ml_collections

from anonjax.retrieval.embedding_inputs import Inputs, test_split
from anonjax.retrieval.inputs import relevant_count

log = logging.getLogger(__name__)

MIN_SEPARABLE_K = 10  # below this many relevant items per query the metrics cannot separate settings
TOY_QUERIES = 1000  # fewer queries, or a backbone trained for fewer steps, is a demonstration at toy scale
TOY_STEPS = 10_000


def study_scale(config: ml_collections.ConfigDict) -> dict | None:
    """What produced the embeddings, when this study trained them: backbone, released weights continued from,
    training steps and batch, the canvas and the input resolution the model sees. None for embeddings brought
    from elsewhere."""
    if config.evaluate.embeddings or "train" not in config or "embed" not in config:
        return None
    t = config.train
    return dict(backbone=t.model, pretrained=t.pretrained or None, steps=t.epochs * t.steps_per_epoch,
                batch=t.batch_size, canvas=t.canvas_size, input=config.embed.image_size)


def evaluation_settings(config: ml_collections.ConfigDict, data: Inputs, scenarios: list[dict],
                        n_test: int | None) -> dict:
    """What the scores mean: the retrieval set and its size, the relevant set, the queries left out for want of
    one, self-matches, the intervals' resamples, the probes' splits, the scale of the models and the warnings a
    reader must see first."""
    ev, n = config.evaluate, len(data.gt)
    k = scenarios[0]["k"] if scenarios else relevant_count(ev.fraction, n - 1 if data.exclude_self else n)
    scale = study_scale(config)
    toy = (config.evaluate.embeddings == "builtin" or n < TOY_QUERIES
           or (scale is not None and ("tiny" in scale["backbone"]
                                      or (not scale["pretrained"] and scale["steps"] < TOY_STEPS))))
    warnings = []
    if k < MIN_SEPARABLE_K:
        warnings.append(f"each query has only {k} relevant item(s) (k = {k} < {MIN_SEPARABLE_K}): at this size the "
                        "metrics cannot separate settings; evaluate on more images (evaluate.split='all' uses every "
                        "embedded split)")
        log.warning("evaluate: %s", warnings[-1])
    if tied := int(data.tied.sum()):
        warnings.append(f"{tied} of {n} queries have no defined relevant set (their k-th and (k+1)-th most similar "
                        f"images, k = {k}, have the same cosine in the ground truth): they are left out of every "
                        f"score, which covers the other {n - tied}")
        log.warning("evaluate: %s", warnings[-1])
    return dict(split=ev.split, splits=list(data.splits), n=n, k=k, tied=tied, fraction=ev.fraction,
                exclude_self=data.exclude_self, self_matches=ev.self_matches,
                self_share=None if data.exclude_self else 1 / k, n_bootstrap=ev.n_bootstrap,
                train_split=ev.train_split if n_test else None, test_split=test_split(ev) if n_test else None,
                n_test=n_test,
                builtin=config.evaluate.embeddings == "builtin", scale=scale, toy=bool(toy), warnings=warnings)
