"""The skeleton every study config fills in: one grid of models, read by every stage, and the presets."""

import ml_collections

from configs import anonymization, embedding, evaluation, training


def base(*, methods, degrees, detectors, training_preset: str, workdir: str) -> ml_collections.ConfigDict:
    """A study over ``methods`` x ``degrees`` x adaptations A, B, C plus the Unadapted model and one control (the
    Unadapted recipe with another seed: the retraining noise every comparison of models is read against).

    ``config.anonymize.methods``/``degrees`` follow ``config.grid`` (one source of truth, also for
    command-line overrides of the grid).
    """
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.workdir = workdir
    config.stages = "anonymize,train,embed,evaluate,privacy,report"
    # adapted_degrees: the degrees adapted models are trained for (empty: every degree of the grid).
    config.grid = ml_collections.ConfigDict(dict(methods=methods, degrees=degrees, adaptations=("A", "B", "C"),
                                                 controls=1, adapted_degrees=()))
    config.anonymize = anonymization.get_config(detectors=detectors)
    config.anonymize.methods = config.grid.get_ref("methods")
    config.anonymize.degrees = config.grid.get_ref("degrees")
    config.train = training.get_config(training_preset)
    config.embed = embedding.get_config()
    config.evaluate = evaluation.get_config()
    # originals=False: no output meant for sharing shows an original image; the example sheet drops its original
    # column, attention maps are drawn on the grid's strongest anonymization, and the report links neither.
    # max_readable: the report's "what this means" names the most useful setting whose residual readable text
    # (the privacy stage's text_words_readable) is below this fraction.
    config.report = ml_collections.ConfigDict(dict(originals=True, max_readable=0.01))
    return config
