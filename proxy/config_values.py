"""Config values: the error a user sees, typed coercion, and `${VAR}` expansion from the environment."""

from __future__ import annotations

import os
import re
from typing import Any


class ConfigError(ValueError):
    """A config problem, phrased for the user; the CLI prints it without a traceback."""


def coerce(value: Any, kind: type, name: str, where: str) -> Any:
    """`value` as `kind` (bool, int, float, list of str, str), or a ConfigError naming the key."""
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError
                return value.lower() in ("1", "true", "yes")
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind in (int, float):
            if isinstance(value, bool):
                raise ValueError
            return kind(value)
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError
            return value
        if kind is str and not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} expected {kind.__name__}, got {value!r}") from None


VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(text: str) -> str:
    """`${VAR}` (or `${VAR:-default}`) from the environment; an unset variable without a default is
    an error, not an empty string."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"${{{name}}} is used in the config but not set in the environment")

    return VAR_REF.sub(one, text)
