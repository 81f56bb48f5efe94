"""The action contract every rewardlab env enforces (docs/contracts.md), written once.

An action outside the env's action space raises :class:`~rewardlab.errors.InvalidAction` naming
the action and the space; a single env stepped after its episode ended raises
:class:`~rewardlab.errors.EpisodeFinished`. Vector envs autoreset, so they only check each row.

- ``Discrete(n, start)``: a Python ``int`` or numpy integer (a 0-d integer array too) in
  ``[start, start + n)``. ``bool``, floats (``2.7``, but also ``2.0``), strings and arrays of
  another shape are refused: casting them would silently pick another action.
- ``Box``: a real-valued array (integer or floating dtype; no bool, complex, object or string) of
  exactly the space's shape, every entry finite. Whether out-of-bounds entries are clipped or
  refused is each family's documented choice (``clip=`` here): control tasks and coopetition clip
  (their dynamics already clamp, see the env docstrings); nothing rewardlab registers refuses.

Functions: :func:`check_discrete`, :func:`check_box`, :func:`check_discrete_batch`,
:func:`check_box_batch`, :func:`finished`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from rewardlab.errors import EpisodeFinished, InvalidAction

__all__ = ["check_discrete", "check_box", "check_discrete_batch", "check_box_batch", "finished", "REAL_KINDS", "INT_TYPES"]

#: numpy dtype kinds accepted as real numbers: signed and unsigned integers, floats.
REAL_KINDS = frozenset("iuf")
#: The scalar types that reach an env on the hot path (Python ints, numpy ints from a sampled batch),
# checked with one `type(x) in` lookup before anything slower.
INT_TYPES = frozenset({int, np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8,
                        np.intp, np.uintp})


def _refuse(action: Any, space: Any, why: str, where: str = "action") -> InvalidAction:
    text = repr(action)
    if len(text) > 200:  # a whole batch in a message helps nobody; the shape and dtype do
        text = text[:200] + "..."
    return InvalidAction(f"`{where}` {text} is outside the action space {space}: {why}")


def check_discrete(action: Any, n: int, space: spaces.Discrete, start: int = 0) -> int:
    """`action` as a Python int in ``[start, start + n)``, or :class:`InvalidAction`.

    Example:
        >>> from gymnasium.spaces import Discrete
        >>> check_discrete(2, 3, Discrete(3)), check_discrete(np.int64(0), 3, Discrete(3))
        (2, 0)
        >>> check_discrete(2.7, 3, Discrete(3))
        Traceback (most recent call last):
        ...
        rewardlab.errors.InvalidAction: `action` 2.7 is outside the action space Discrete(3): it must be an integer (got float)
    """
    if type(action) in INT_TYPES:  # the fast path: one set lookup, one int(), one range test
        a = int(action)  # before the test: comparing numpy scalars costs more than converting once
        if start <= a < start + n:
            return a
        raise _refuse(action, space, f"it must be in [{start}, {start + n})")
    if isinstance(action, (bool, np.bool_)):
        raise _refuse(action, space, "it must be an integer, not a bool")
    if isinstance(action, (int, np.integer)) or (isinstance(action, np.ndarray) and action.shape == ()
                                                 and action.dtype.kind in "iu"):
        return check_discrete(int(action), n, space, start)
    kind = type(action).__name__
    if isinstance(action, np.ndarray):
        kind = f"array of shape {action.shape}, dtype {action.dtype}"
    raise _refuse(action, space, f"it must be an integer (got {kind})")


def _real_array(action: Any, space: Any, where: str) -> np.ndarray:
    try:
        a = np.asarray(action)
    except (TypeError, ValueError) as e:  # ragged lists, objects numpy cannot hold
        raise _refuse(action, space, f"it is not an array of numbers ({e})", where) from None
    if a.dtype.kind not in REAL_KINDS:
        raise _refuse(action, space, f"its dtype {a.dtype} is not a real number type", where)
    return a


def check_box(action: Any, space: spaces.Box, *, clip: bool, where: str = "action") -> np.ndarray:
    """`action` as a finite real array of `space`'s shape, or :class:`InvalidAction`.

    With ``clip=False`` an entry outside ``[low, high]`` is refused too; with ``clip=True`` it
    passes (the env clips it, as its docstring says). The array is returned as given (no cast),
    so the env computes with exactly what it would have without the check.

    Example:
        >>> from gymnasium.spaces import Box
        >>> check_box([0.5, 2.0], Box(-1.0, 1.0, (2,)), clip=True).tolist()
        [0.5, 2.0]
        >>> check_box([0.5, float("nan")], Box(-1.0, 1.0, (2,)), clip=True)
        Traceback (most recent call last):
        ...
        rewardlab.errors.InvalidAction: `action` [0.5, nan] is outside the action space Box(-1.0, 1.0, (2,), float32): it has non-finite entries
    """
    a = _real_array(action, space, where)
    if a.shape != space.shape:
        raise _refuse(action, space, f"its shape {a.shape} is not {space.shape}", where)
    if not np.isfinite(a).all():
        raise _refuse(action, space, "it has non-finite entries", where)
    if not clip and ((a < space.low).any() or (a > space.high).any()):
        raise _refuse(action, space, "it has entries outside [low, high]", where)
    return a


def check_discrete_batch(actions: Any, num_envs: int, n: int, space: Any, start: int = 0) -> np.ndarray:
    """A batch of Discrete actions, shape ``(num_envs,)``, integer dtype, every row in range.

    Example:
        >>> from gymnasium.spaces import MultiDiscrete
        >>> check_discrete_batch([0, 2], 2, 3, MultiDiscrete([3, 3])).tolist()
        [0, 2]
        >>> check_discrete_batch([0, 3], 2, 3, MultiDiscrete([3, 3]))
        Traceback (most recent call last):
        ...
        rewardlab.errors.InvalidAction: `actions` [0, 3] is outside the action space MultiDiscrete([3 3]): rows [1] are outside [0, 3)
    """
    a = np.asarray(actions) if not isinstance(actions, np.ndarray) else actions
    if a.shape != (num_envs,):
        raise _refuse(actions, space, f"its shape {a.shape} is not ({num_envs},) (one action per sub-env)", "actions")
    if a.dtype.kind not in "iu":
        raise _refuse(actions, space, f"its dtype {a.dtype} is not an integer type", "actions")
    bad = (a < start) | (a >= start + n)
    if bad.any():
        raise _refuse(actions, space, f"rows {np.flatnonzero(bad).tolist()} are outside [{start}, {start + n})", "actions")
    return a


def check_box_batch(actions: Any, num_envs: int, single: spaces.Box, space: Any, *, clip: bool) -> np.ndarray:
    """A batch of Box actions, shape ``(num_envs, *single.shape)``, real dtype, finite (numpy arrays).

    Example:
        >>> from gymnasium.spaces import Box
        >>> check_box_batch([[0.0], [9.0]], 2, Box(0.0, 1.0, (1,)), Box(0.0, 1.0, (2, 1)), clip=True).tolist()
        [[0.0], [9.0]]
    """
    a = _real_array(actions, space, "actions")
    if a.shape != (num_envs, *single.shape):
        raise _refuse(actions, space, f"its shape {a.shape} is not {(num_envs, *single.shape)}", "actions")
    finite = np.isfinite(a).reshape(num_envs, -1).all(axis=1)
    if not finite.all():
        raise _refuse(actions, space, f"rows {np.flatnonzero(~finite).tolist()} have non-finite entries", "actions")
    if not clip:
        out = ((a < single.low) | (a > single.high)).reshape(num_envs, -1).any(axis=1)
        if out.any():
            raise _refuse(actions, space, f"rows {np.flatnonzero(out).tolist()} have entries outside [low, high]", "actions")
    return a


def finished(env_name: str) -> EpisodeFinished:
    """The error a single env raises when stepped after its episode ended."""
    return EpisodeFinished(f"`step()` called on a finished episode of {env_name} (it terminated or truncated); "
                           "call `reset()` first")
