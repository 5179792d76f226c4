"""Stages of a study. Each is ``run(config, workdir)``: it reads the files of the stages before it
from ``workdir`` and writes its own, skipping work whose outputs already match the config."""

ORDER = ("anonymize", "train", "embed", "evaluate", "report")
