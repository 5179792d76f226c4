"""Stages of a study. Each is ``validate(config)``, which checks its settings before any stage starts, and
``run(config, workdir) -> str``: it reads the files of the stages before it from ``workdir``, writes its
own, skips work whose outputs already match the config and data, and returns one line saying what it
did ("up to date" when it skipped everything). Stages read the study through ``anonjax.plan`` and never
import each other."""

ORDER = ("anonymize", "train", "embed", "evaluate", "privacy", "report")
