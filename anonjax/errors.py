"""Errors about a user's data and a stage's inputs: the command line prints their message alone, one line
that names the file (settings have ``config_checks.ConfigError``)."""

from __future__ import annotations


class DatasetError(ValueError):
    """Data or a stage's input is missing or malformed (a label list, a partition file, a folder, an image,
    an embedding file); the message names the file, and the command line prints it alone."""


class MissingInputError(DatasetError, FileNotFoundError):
    """A file that a stage needs does not exist: an earlier stage has not run, or a download failed."""


class OutputError(DatasetError):
    """An output cannot be written: the disk or quota is full, the file system is read-only, the work
    directory is unusable or in use by another run. The message names the path, the reason and what to do;
    nothing half-written is kept and no stage is marked done."""
