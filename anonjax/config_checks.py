"""Checks of config values that stop a run before any work, naming the key that is wrong."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import Any

import ml_collections
from etils import epath

from anonjax.paths import as_path, is_local, missing_package


class ConfigError(ValueError):
    """A config value is wrong; the message starts with the dotted key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config.{key}: {message}")
        self.key = key


def get(config: ml_collections.ConfigDict, key: str) -> Any:
    """The value at dotted ``key``; a ConfigError if any part is missing."""
    node: Any = config
    for part in key.split("."):
        try:
            node = node[part]
        except (KeyError, AttributeError, TypeError):
            hint = f"missing (set it in the config file or with --config.{key}=...)"
            raise ConfigError(key, hint) from None
    return node


def check_fraction(config: ml_collections.ConfigDict, key: str) -> float:
    """A number in (0, 1]."""
    value = get(config, key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(key, f"must be a fraction in (0, 1], got {value!r}")
    return float(value)


def check_fractions(config: ml_collections.ConfigDict, key: str) -> tuple[float, ...]:
    """A non-empty sequence of numbers in (0, 1]."""
    values = as_tuple(get(config, key))
    if not values:
        raise ConfigError(key, "must list at least one value")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
            raise ConfigError(key, f"every value must be a fraction in (0, 1], got {v!r}")
    return tuple(float(v) for v in values)


def check_positive_int(config: ml_collections.ConfigDict, key: str) -> int:
    """An integer >= 1."""
    value = get(config, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(key, f"must be a positive integer, got {value!r}")
    return value


def check_nonnegative_int(config: ml_collections.ConfigDict, key: str) -> int:
    """An integer >= 0 (not a bool)."""
    value = get(config, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(key, f"must be an integer >= 0, got {value!r}")
    return value


def check_positive_number(config: ml_collections.ConfigDict, key: str) -> float:
    """A finite number > 0 (not a bool)."""
    value = get(config, key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError(key, f"must be a positive number, got {value!r}")
    return float(value)


def check_bool(config: ml_collections.ConfigDict, key: str) -> bool:
    """True or False (a string such as "false" would otherwise count as true)."""
    value = get(config, key)
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be True or False, got {value!r}")
    return value


def check_choice(config: ml_collections.ConfigDict, key: str, choices: Collection[str]) -> str:
    """One of ``choices``."""
    value = get(config, key)
    if value not in choices:
        raise ConfigError(key, f"must be one of {sorted(choices)}, got {value!r}")
    return value


def check_choices(config: ml_collections.ConfigDict, key: str, choices: Collection[str]) -> tuple[str, ...]:
    """A non-empty sequence (or comma-separated string) of values from ``choices``."""
    values = as_tuple(get(config, key))
    if not values:
        raise ConfigError(key, f"must list at least one of {sorted(choices)}")
    for v in values:
        if v not in choices:
            raise ConfigError(key, f"{v!r} is not one of {sorted(choices)}")
    return values


def check_servable(key: str, value: Any) -> epath.Path:
    """``value`` as a path (a URL stays a URL); a ``ConfigError`` naming ``key`` and what to install when it is a
    URL that nothing installed can serve."""
    if todo := missing_package(str(value)):
        raise ConfigError(key, f"{str(value)!r} cannot be read or written here: {todo}")
    return as_path(str(value))


def check_path(config: ml_collections.ConfigDict, key: str, *, kind: str = "any",
               local_only: bool = False) -> epath.Path:
    """An existing path; ``kind`` is "file", "dir" or "any". It may be a URL an installed package serves, unless
    ``local_only`` (a file handed to a reader that opens local files only): then a URL is refused rather than
    read as a local folder."""
    value = get(config, key)
    if not value:
        raise ConfigError(key, "must name a path, got an empty value")
    if local_only and not is_local(str(value)):
        raise ConfigError(key, f"{str(value)!r} is a URL, but this path is read from a local disk only: copy it to "
                          "a local or mounted folder and name that")
    path = check_servable(key, value)
    exists = {"file": path.is_file, "dir": path.is_dir, "any": path.exists}[kind]()
    if not exists:
        what = {"file": "file", "dir": "directory", "any": "path"}[kind]
        raise ConfigError(key, f"{what} {str(path)!r} does not exist")
    return path


def report_originals(config: ml_collections.ConfigDict) -> bool:
    """``report.originals``: whether outputs meant to be shown may hold original images (True where the
    config has no ``report`` block)."""
    value = config.get("report", {}).get("originals", True)
    if not isinstance(value, bool):
        raise ConfigError("report.originals", f"must be True or False, got {value!r}")
    return value


def as_tuple(value: Any) -> tuple:
    """A config list value as a tuple. Comma-separated strings are split, also inside a sequence, since a
    command-line override ``--config.x=a,b`` of a tuple of strings arrives as ``("a,b",)``."""
    if value is None:
        return ()
    items = value if isinstance(value, Iterable) and not isinstance(value, str) else (value,)
    out: list = []
    for item in items:
        out += [v.strip() for v in item.split(",") if v.strip()] if isinstance(item, str) else [item]
    return tuple(out)
