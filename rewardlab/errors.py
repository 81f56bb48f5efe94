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
    "InvalidAction",
    "EpisodeFinished",
    "StoreError",
    "RewardCodeRejected",
    "LLMBackendError",
    "CacheMiss",
    "DeviceUnsupported",
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


class InvalidAction(RewardlabError, ValueError):
    """An action outside the env's action space (wrong type, shape or dtype, NaN, out of range)."""


class EpisodeFinished(RewardlabError, RuntimeError):
    """`step` was called on an episode that already terminated or truncated; call `reset` first."""


class DeviceUnsupported(RewardlabError, TypeError):
    """A reward term (or an option of one) cannot compute on the given array backend or device.

    Raised instead of copying the batch to the host, which would stall an on-device training loop.
    """


class StoreError(RewardlabError, OSError):
    """A sweep folder or run record cannot be read or written; the message names the path."""


class RewardCodeRejected(RewardlabError, ValueError):
    """LLM-written reward code failed a gate.

    ``gate`` is ``"static"`` (AST allow-list), ``"dry_run"`` (sandboxed trial) or ``"runtime"``;
    ``rule`` is a short rule id (``import:os``, ``stmt:While``, ``return:type``, ...); ``line`` is the
    source line (or None) and ``hint`` says what to change. ``str(e)`` is the message fed back to the LLM.
    """

    def __init__(self, gate: str, rule: str, detail: str, line: int | None = None, hint: str = ""):
        self.gate, self.rule, self.detail, self.line, self.hint = gate, rule, detail, line, hint
        where = f" at line {line}" if line is not None else ""
        super().__init__(f"[{gate}:{rule}]{where}: {detail}" + (f" Hint: {hint}" if hint else ""))


class LLMBackendError(RewardlabError, RuntimeError):
    """The LLM server could not be reached or answered with an error after every retry."""


class CacheMiss(RewardlabError, LookupError):
    """`replay` mode found no cached answer for a request (the message names its cache key)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean: `x`?' suffix for error messages, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean: `{close[0]}`?" if close else ""
