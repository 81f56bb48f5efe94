"""Hyper-parameter checks built from each algorithm's own signature and type hints.

An ablation config's ``hyperparams`` are keyword arguments of the algorithm's constructor (SB3's
``PPO.__init__``, ``DQN.__init__``, ...) or fields of TorchPPO's ``PPOArgs``. Before anything runs,
:func:`check_hyperparams` checks each value against the parameter's annotation
(``int``, ``float``, ``bool``, ``str``, ``None``, unions, ``Callable`` schedules, ``dict[str, Any]``,
``tuple[int, str]``, classes) and against the ranges in :data:`RANGES` (sizes that must be positive,
discounts in (0, 1], probabilities in [0, 1]), so that ``n_steps: -5`` or ``learning_rate: fast`` is
a :class:`~rewardlab.errors.ConfigError` naming the key instead of a failure in every run.

Functions: :func:`check_hyperparams`, :func:`check_value`, :func:`describe_type`.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import math
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from rewardlab.errors import ConfigError

__all__ = ["check_hyperparams", "check_value", "describe_type", "RANGES"]

#: name -> (low, high, low_open, high_open, why). SB3's and PPOArgs' meaning of these names; a value
#: outside fails inside the algorithm (an empty rollout, a negative learning rate, a discount > 1).
RANGES: dict[str, tuple[float, float, bool, bool, str]] = {
    "n_steps": (1, math.inf, False, True, "steps per rollout"),
    "batch_size": (1, math.inf, False, True, "a minibatch needs samples"),
    "n_epochs": (1, math.inf, False, True, "passes over each rollout"),
    "buffer_size": (1, math.inf, False, True, "replay buffer capacity"),
    "learning_starts": (0, math.inf, False, True, "steps before learning"),
    "target_update_interval": (1, math.inf, False, True, "steps between target updates"),
    "policy_delay": (1, math.inf, False, True, "updates between policy updates"),
    "stats_window_size": (1, math.inf, False, True, "episodes in the logged mean"),
    "embed_dim": (1, math.inf, False, True, "embedding size"),
    "gamma": (0.0, 1.0, True, False, "a discount"),
    "gae_lambda": (0.0, 1.0, False, False, "GAE's lambda"),
    "tau": (0.0, 1.0, True, False, "the soft-update rate"),
    "exploration_fraction": (0.0, 1.0, False, False, "a fraction of training"),
    "exploration_initial_eps": (0.0, 1.0, False, False, "a probability"),
    "exploration_final_eps": (0.0, 1.0, False, False, "a probability"),
    "learning_rate": (0.0, math.inf, True, True, "a step size"),
    "clip_range": (0.0, math.inf, True, True, "PPO's ratio clip"),
    "clip_range_vf": (0.0, math.inf, True, True, "the value clip"),
    "target_kl": (0.0, math.inf, True, True, "a KL threshold"),
    "max_grad_norm": (0.0, math.inf, True, True, "a gradient-norm clip"),
    "vf_coef": (0.0, math.inf, False, True, "a loss weight"),
    "ent_coef": (0.0, math.inf, False, True, "a loss weight"),
}
_POSITIVE_SIZES = {k for k, (low, _, _, _, _) in RANGES.items() if low == 1}


def describe_type(tp: Any) -> str:
    """A short human name of an annotation: ``float | Callable[[float], float]`` -> ``float or a callable``.

    Example:
        >>> from collections.abc import Callable
        >>> describe_type(float | Callable[[float], float]), describe_type(int | tuple[int, str]), describe_type(float | None)
        ('float or a callable', 'int or tuple[int, str]', 'float or None')
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in typing.get_args(tp))
    if tp is type(None) or tp is None:
        return "None"
    if origin is collections.abc.Callable or tp is collections.abc.Callable or tp is Callable:
        return "a callable"
    if origin is not None:
        args = ", ".join(describe_type(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(tp, "__name__", str(tp))


def _matches(value: Any, tp: Any, lists: bool = False) -> bool:
    """Whether `value` fits annotation `tp`; unknown annotations (strings, forward refs) accept anything.

    ``lists=True`` lets a list stand for a tuple (for targets that convert, such as PPOArgs.hidden).
    """
    if tp is inspect.Parameter.empty or tp is Any or isinstance(tp, (str, typing.ForwardRef)):
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a, lists) for a in args)
    if tp is type(None) or tp is None:
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:  # bool is an int in Python, and `n_steps: yes` is a typo, not a size
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is collections.abc.Callable or tp in (collections.abc.Callable, Callable):
        return callable(value)
    if origin is type:
        return isinstance(value, type) and (not args or not isinstance(args[0], type) or issubclass(value, args[0]))
    if origin in (dict, collections.abc.Mapping):
        return isinstance(value, Mapping) and all(_matches(k, args[0]) and _matches(v, args[1])
                                                  for k, v in value.items()) if args else isinstance(value, Mapping)
    if origin is tuple:
        # SB3 tests isinstance(x, tuple) (train_freq): a YAML list would be misread there
        if not isinstance(value, tuple) and not (lists and isinstance(value, list)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0], lists) for v in value)
        return len(value) == len(args) and all(_matches(v, a, lists) for v, a in zip(value, args))
    if origin in (list, collections.abc.Sequence):
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value) if args else True
    if origin is typing.Literal:
        return value in args
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True  # an annotation this checker does not model: leave it to the algorithm


def _annotations(target: Callable[..., Any]) -> dict[str, Any]:
    """Parameter name -> annotation object, string annotations evaluated where they can be."""
    params = inspect.signature(target).parameters
    module = sys.modules.get(getattr(target, "__module__", ""), None)
    namespace = dict(vars(module)) if module else {}
    out = {}
    for name, p in params.items():
        ann = p.annotation
        if isinstance(ann, str):
            try:
                ann = eval(ann, namespace)  # noqa: S307  (the library's own annotation text, not user input)
            except Exception:  # a forward reference to a name the module does not define at runtime
                pass
        out[name] = ann
    return out


def _range_error(name: str, value: Any, where: str) -> str | None:
    low, high, low_open, high_open, why = RANGES[name]
    if name in _POSITIVE_SIZES:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            return f"`{where}` must be a positive integer ({why}). Received {value!r}"
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None  # a schedule (callable) or a named mode such as SAC's ent_coef="auto"
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        return f"`{where}` must be in {interval} ({why}). Received {value!r}"
    return None


def check_value(name: str, value: Any, annotation: Any, where: str, *, lists: bool = False) -> None:
    """Raise :class:`ConfigError` unless `value` fits `annotation` and :data:`RANGES` (positive sizes first).

    Example:
        >>> check_value("n_steps", -5, int, "algorithms[0].hyperparams.n_steps")
        Traceback (most recent call last):
        ...
        rewardlab.errors.ConfigError: `algorithms[0].hyperparams.n_steps` must be a positive integer (steps per rollout). Received -5
    """
    if not _matches(value, annotation, lists):
        hint = " (a tuple; YAML cannot write one, so give the int form)" if isinstance(value, list) else ""
        raise ConfigError(f"`{where}` must be {describe_type(annotation)} (from the algorithm's signature){hint}. "
                          f"Received {value!r}")
    if name in RANGES:
        error = _range_error(name, value, where)
        if error:
            raise ConfigError(error)


def check_hyperparams(target: Callable[..., Any], hyper: Mapping[str, Any], where: str) -> None:
    """Check every value of `hyper` against `target`'s signature (a class's ``__init__`` or a dataclass).

    Keys are checked by the caller (unknown keys get a "Did you mean"); this checks values only. A
    dataclass target may take a list for a tuple field (PPOArgs converts ``hidden``); an SB3 class may not.

    Example:
        >>> from stable_baselines3 import PPO
        >>> check_hyperparams(PPO.__init__, {"n_steps": 64, "learning_rate": 3e-4}, "algorithms[0].hyperparams")
        >>> check_hyperparams(PPO.__init__, {"learning_rate": "fast"}, "algorithms[0].hyperparams")
        Traceback (most recent call last):
        ...
        rewardlab.errors.ConfigError: `algorithms[0].hyperparams.learning_rate` must be float or a callable (from the algorithm's signature). Received 'fast'
    """
    annotations = _annotations(target)
    lists = dataclasses.is_dataclass(target)
    for name, value in hyper.items():
        check_value(name, value, annotations.get(name, inspect.Parameter.empty), f"{where}.{name}", lists=lists)
