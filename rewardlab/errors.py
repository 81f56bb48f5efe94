"""Typed errors raised for bad user input, each naming the problem and, where possible, the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "RewardlabError",
    "ConfigError",
    "InvalidParameter",
    "NonFiniteError",
    "MissingExtraError",
    "did_you_mean",
]


class RewardlabError(Exception):
    """Base class of every error rewardlab raises on purpose."""


class ConfigError(RewardlabError, ValueError):
    """A config dict or YAML file has an unknown key, unknown type or impossible value."""


class InvalidParameter(RewardlabError, ValueError):
    """A constructor or function argument is outside its allowed range or of the wrong type."""


class NonFiniteError(RewardlabError, FloatingPointError):
    """A reward, potential or bonus came out NaN or infinite."""


class MissingExtraError(RewardlabError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, what: str, extra: str, cause: BaseException | None = None):
        super().__init__(
            f"{what} needs the optional dependencies of the `{extra}` extra: "
            f'pip install "rewardlab[{extra}]"' + (f" ({cause})" if cause else "")
        )


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean: `x`?' suffix for error messages, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean: `{close[0]}`?" if close else ""
