"""What LLM-written reward code sees: env descriptors and read-only observation views.

Classes: :class:`Field` (one named quantity of an observation), :class:`EnvDescriptor` (an env's
fields, action, info keys, success criterion and an example reward; JSON round trip),
:class:`ObsView` (one observation, read-only, with named attributes).
Functions: :func:`make_view`, :func:`make_info`, :func:`make_action`, :func:`register_descriptor`,
:func:`descriptor_for`, :func:`generic_descriptor`, :func:`check_descriptor`.

The generated function is ``compute_reward(obs, action, next_obs, info)``: ``obs``/``next_obs`` are
:class:`ObsView` objects (``obs.position``; ``np.asarray(obs)`` is the raw observation), ``action``
is a python ``int`` (Discrete) or a read-only float ndarray (Box), and ``info`` a read-only mapping
holding exactly the descriptor's numeric info keys. Text2Reward (spec §A) hands the code the env
itself; a view gives it names without handing it anything it can change.

This module imports numpy and the standard library only, and nothing from ``rewardlab`` at import
time: the sandbox worker loads it (errors are imported lazily, on the error path only).

Example:
    >>> import numpy as np
    >>> desc = EnvDescriptor(
    ...     env_id="toy", summary="A point on a line.", action="int in {0, 1}", action_kind="discrete",
    ...     fields=(Field("x", "position", unit="m", low=-1.0, high=1.0, index=0),
    ...             Field("v", "velocity", unit="m/s", index=1)),
    ...     info=(("is_success", "1.0 at the goal"),), success="x >= 1", example="")
    >>> view = make_view(desc, np.array([0.25, -0.5], dtype=np.float32))
    >>> view.x, view.v
    (0.25, -0.5)
    >>> np.asarray(view)
    array([ 0.25, -0.5 ], dtype=float32)
    >>> view.x = 1.0
    Traceback (most recent call last):
    ...
    AttributeError: the observation view is read-only (tried to set `x`)
    >>> dict(make_info(desc, {"is_success": True, "other": 3}))
    {'is_success': 1.0}
    >>> EnvDescriptor.from_dict(desc.to_dict()) == desc
    True
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Field",
    "EnvDescriptor",
    "ObsView",
    "make_view",
    "make_info",
    "make_action",
    "register_descriptor",
    "descriptor_for",
    "generic_descriptor",
    "check_descriptor",
    "FIELD_KINDS",
]

#: What a field's attribute holds: a python float, a python int, a read-only ndarray, or a str.
FIELD_KINDS = ("float", "int", "array", "text")
_ACTION_KINDS = ("discrete", "box")
# Attribute names of the view itself; a field may not shadow them.
_RESERVED = frozenset({"raw", "fields"})
# Generic Box descriptors name each element up to this size; above it (images) one array field.
_GENERIC_MAX_FIELDS = 64
_FORMAT = 1  # version of the to_dict layout


def _error(kind: str, message: str) -> Exception:
    # Imported here, not at module top: the sandbox worker loads this file without the rewardlab
    # package (whose __init__ imports gymnasium and every env family).
    from rewardlab import errors

    return getattr(errors, kind)(message)


def _did_you_mean(name: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean: `{close[0]}`?" if close else ""


@dataclass(frozen=True)
class Field:
    """One named quantity of an observation, as an attribute of :class:`ObsView`.

    Args:
        name: attribute name on the view (a python identifier, not ``raw`` or ``fields``).
        doc: one line for the prompt.
        unit: physical unit, or "" when unitless.
        low: documented lower bound (None when unbounded or unknown).
        high: documented upper bound (None when unbounded or unknown).
        key: for Dict observations, the key of the array the field reads; None for a Box observation.
        index: a flat index (scalar kinds) or indices into the array's flattened form; None = all of it.
        kind: ``"float"``/``"int"`` (python scalar), ``"array"`` (read-only ndarray) or ``"text"``
            (uint8 bytes decoded as latin-1, trailing NULs stripped).
        shape: shape of an ``"array"`` field (reshape after indexing); None keeps the array's shape.

    Raises:
        ConfigError: a bad name, kind, index or shape (the message names the field).
    """

    name: str
    doc: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    key: str | None = None
    index: int | tuple[int, ...] | None = None
    kind: str = "float"
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        # A field name becomes an attribute the generated code writes; a keyword or a private name
        # could not be written as `obs.name`, and `raw`/`fields` would shadow the view's own.
        if not (isinstance(self.name, str) and self.name.isidentifier()) or keyword.iskeyword(self.name):
            raise _error("ConfigError", f"Field `name` must be a python identifier, got {self.name!r}")
        if self.name.startswith("_") or self.name in _RESERVED:
            raise _error("ConfigError", f"Field `name` {self.name!r} is reserved (no leading underscore, not raw/fields)")
        if self.kind not in FIELD_KINDS:
            raise _error("ConfigError", f"Field `{self.name}`: `kind` must be one of {FIELD_KINDS}, got {self.kind!r}")
        # JSON gives lists back; store tuples so descriptors stay hashable and compare equal.
        index = self.index
        if isinstance(index, (list, tuple)):
            index = tuple(int(i) for i in index)
        elif index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise _error("ConfigError", f"Field `{self.name}`: `index` must be an int, a tuple of ints or None")
            index = int(index)
        if self.kind in ("float", "int") and isinstance(index, tuple):
            raise _error("ConfigError", f"Field `{self.name}`: a {self.kind} field reads one element; `index` must be an int")
        if self.kind in ("array", "text") and isinstance(index, int):
            index = (index,)
        shape = None if self.shape is None else tuple(int(s) for s in self.shape)
        if shape is not None and self.kind != "array":
            raise _error("ConfigError", f"Field `{self.name}`: `shape` applies to array fields only")
        if shape is not None and isinstance(index, tuple) and math.prod(shape) != len(index):
            raise _error("ConfigError", f"Field `{self.name}`: `shape` {shape} does not hold the {len(index)} indices")
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if value is not None:
                value = float(value)
                # JSON cannot carry inf; an infinite bound is "unbounded", which is None.
                object.__setattr__(self, bound, value if math.isfinite(value) else None)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "shape", shape)

    def range_text(self) -> str:
        """The documented range as ``[low, high]`` (``-inf``/``inf`` for an open side), or "" when none."""
        if self.low is None and self.high is None:
            return ""
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"[{low}, {high}]"


@dataclass(frozen=True)
class EnvDescriptor:
    """What the reward code of one env sees: fields, action, info keys, success criterion, an example.

    Args:
        env_id: the env id this describes (or a label for a generic descriptor).
        summary: the task in two sentences.
        fields: the named quantities of an observation.
        action: what the action is, in words.
        action_kind: ``"discrete"`` (the function gets a python int) or ``"box"`` (a read-only float ndarray).
        info: the numeric info keys handed to ``compute_reward``, as ``(key, doc)`` pairs.
        success: the task's own success criterion, in words.
        example: a valid ``compute_reward`` source for this env (it passes the gates).
        obs_keys: the raw keys of a Dict observation; None for a Box/Discrete observation.

    Raises:
        ConfigError: duplicate field names, an unknown action kind, or fields that disagree with ``obs_keys``.
    """

    env_id: str
    summary: str
    fields: tuple[Field, ...]
    action: str
    action_kind: str
    info: tuple[tuple[str, str], ...]
    success: str
    example: str
    obs_keys: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        fields = tuple(f if isinstance(f, Field) else Field(**f) for f in self.fields)
        names = [f.name for f in fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise _error("ConfigError", f"EnvDescriptor `{self.env_id}`: duplicate field names {duplicates}")
        if self.action_kind not in _ACTION_KINDS:
            raise _error(
                "ConfigError",
                f"EnvDescriptor `{self.env_id}`: `action_kind` must be one of {_ACTION_KINDS}, got {self.action_kind!r}",
            )
        info = tuple((str(k), str(doc)) for k, doc in self.info)
        obs_keys = None if self.obs_keys is None else tuple(str(k) for k in self.obs_keys)
        # A field's key must name an array the observation has, or make_view could not find it.
        for f in fields:
            if obs_keys is None and f.key is not None:
                raise _error(
                    "ConfigError", f"EnvDescriptor `{self.env_id}`: field `{f.name}` has key {f.key!r} but `obs_keys` is None"
                )
            if obs_keys is not None and f.key not in obs_keys:
                raise _error(
                    "ConfigError",
                    f"EnvDescriptor `{self.env_id}`: field `{f.name}` reads key {f.key!r}, not one of `obs_keys` {obs_keys}",
                )
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "info", info)
        object.__setattr__(self, "obs_keys", obs_keys)

    @property
    def info_keys(self) -> tuple[str, ...]:
        """The info keys handed to the function, in order."""
        return tuple(k for k, _ in self.info)

    def field(self, name: str) -> Field:
        """The field called ``name``.

        Raises:
            ConfigError: no such field (with a "Did you mean").
        """
        for f in self.fields:
            if f.name == name:
                return f
        names = [f.name for f in self.fields]
        raise _error("ConfigError", f"EnvDescriptor `{self.env_id}` has no field `{name}`.{_did_you_mean(name, names)}")

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (lists for tuples, None for open bounds); :meth:`from_dict` inverts it."""
        return {
            "format": _FORMAT,
            "env_id": self.env_id,
            "summary": self.summary,
            "fields": [
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(f).items()} for f in self.fields
            ],
            "action": self.action,
            "action_kind": self.action_kind,
            "info": [[k, doc] for k, doc in self.info],
            "success": self.success,
            "example": self.example,
            "obs_keys": None if self.obs_keys is None else list(self.obs_keys),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EnvDescriptor:
        """Rebuild a descriptor from :meth:`to_dict` output (or its JSON round trip).

        Raises:
            ConfigError: an unknown key, a missing key or an unsupported format.
        """
        d = dict(d)
        fmt = d.pop("format", _FORMAT)
        if fmt != _FORMAT:
            raise _error("ConfigError", f"EnvDescriptor dict `format` {fmt!r} is not supported (expected {_FORMAT})")
        allowed = [f.name for f in dataclasses.fields(cls)]
        for key in d:
            if key not in allowed:
                raise _error("ConfigError", f"EnvDescriptor dict has unknown key `{key}`.{_did_you_mean(key, allowed)}")
        field_keys = [f.name for f in dataclasses.fields(Field)]
        for f in d.get("fields", ()):
            for key in f:
                if key not in field_keys:
                    raise _error("ConfigError", f"Field dict has unknown key `{key}`.{_did_you_mean(key, field_keys)}")
        try:
            return cls(**{**d, "fields": tuple(Field(**f) for f in d.get("fields", ()))})
        except TypeError as exc:  # a required key is missing
            raise _error("ConfigError", f"EnvDescriptor dict is incomplete: {exc}") from None


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy whose memory belongs to an immutable ``bytes``.

    ``a.copy()`` with ``writeable=False`` could be made writeable again (the copy owns its memory);
    an array over ``bytes`` cannot, so neither can any view of it.
    """
    return np.frombuffer(a.tobytes(), dtype=a.dtype).reshape(a.shape)  # tobytes copies in C order


class ObsView:
    """One observation with named, read-only attributes (built by :func:`make_view`).

    ``view.<field>`` is a python float/int, a read-only ndarray or a str, per the field's kind;
    ``np.asarray(view)`` is the raw observation (a read-only copy; for a Dict observation the first
    key's array); ``view.raw`` is that array, or for a Dict observation a read-only mapping of
    read-only arrays; ``view[i]`` indexes the raw array (``view["key"]`` a Dict's key);
    ``view.fields`` names the fields. Setting or deleting any attribute raises ``AttributeError``.
    """

    __slots__ = ("_values", "_raw", "_array")

    def __init__(self, values: dict[str, Any], raw: Any, array: np.ndarray):
        object.__setattr__(self, "_values", types.MappingProxyType(values))
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_array", array)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails, i.e. for field names (and for slots not yet set).
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            names = list(self._values)
            raise AttributeError(
                f"the observation has no field `{name}`; its fields are {names}.{_did_you_mean(name, names)}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the observation view is read-only (tried to set `{name}`)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"the observation view is read-only (tried to delete `{name}`)")

    @property
    def raw(self) -> Any:
        """The raw observation: a read-only array, or a read-only mapping of read-only arrays."""
        return self._raw

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names, in descriptor order."""
        return tuple(self._values)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        a = self._array
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)  # a new array: the view's own stays untouched
        return a.copy() if copy else a

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, str) and isinstance(self._raw, Mapping):
            return self._raw[item]
        return self._array[item]

    def __len__(self) -> int:
        return len(self._array)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if not isinstance(v, np.ndarray))
        arrays = [k for k, v in self._values.items() if isinstance(v, np.ndarray)]
        if arrays:
            parts += (", " if parts else "") + ", ".join(f"{k}=<array {self._values[k].shape}>" for k in arrays)
        return f"ObsView({parts})"


_PLANS: dict[int, tuple[EnvDescriptor, tuple]] = {}


def _plan(desc: EnvDescriptor) -> tuple[tuple[str, str | None, str, Any, tuple[int, ...] | None], ...]:
    # Per-descriptor extraction plan, built once: make_view runs for every sub-env on every step.
    # Keyed by identity (hashing a descriptor walks every index tuple); the stored descriptor keeps
    # the id from being reused while the entry lives.
    hit = _PLANS.get(id(desc))
    if hit is not None and hit[0] is desc:
        return hit[1]

    def index_of(f: Field) -> Any:
        if f.kind in ("float", "int") and f.index is None:
            return 0  # a one-element observation (Discrete); _read checks the size
        return np.asarray(f.index, dtype=np.intp) if isinstance(f.index, tuple) else f.index

    plan = tuple((f.name, f.key, f.kind, index_of(f), f.shape, f.index is None) for f in desc.fields)
    if len(_PLANS) >= 256:
        _PLANS.clear()
    _PLANS[id(desc)] = (desc, plan)
    return plan


def _read(kind: str, arr: np.ndarray, flat: np.ndarray, index: Any, shape: tuple[int, ...] | None, whole: bool) -> Any:
    if kind == "float":
        if whole and flat.size != 1:
            raise IndexError(f"index None needs a one-element array, got shape {arr.shape}")
        return float(flat[index])
    if kind == "int":
        if whole and flat.size != 1:
            raise IndexError(f"index None needs a one-element array, got shape {arr.shape}")
        return int(flat[index])
    part = arr if whole else flat[index]
    if kind == "text":
        return bytes(np.asarray(part, dtype=np.uint8).reshape(-1)).rstrip(b"\0").decode("latin-1")
    if shape is not None:
        part = part.reshape(shape)
    return part if whole else _frozen(part)  # a view of the frozen raw array is read-only already


def _values(desc: EnvDescriptor, plan: tuple, arrays: Mapping[str | None, np.ndarray]) -> dict[str, Any]:
    flats = {k: a.reshape(-1) for k, a in arrays.items()}
    try:
        return {name: _read(kind, arrays[key], flats[key], index, shape, whole) for name, key, kind, index, shape, whole in plan}
    except (IndexError, ValueError):
        pass
    # Slow path, only to name the field that failed.
    for name, key, kind, index, shape, whole in plan:
        try:
            _read(kind, arrays[key], flats[key], index, shape, whole)
        except (IndexError, ValueError) as exc:
            message = f"EnvDescriptor `{desc.env_id}`: field `{name}` cannot be read from the observation: {exc}"
            raise _error("ConfigError", message) from None
    raise AssertionError("unreachable: a field failed once and then read fine")


def make_view(desc: EnvDescriptor, obs: np.ndarray | Mapping[str, np.ndarray]) -> ObsView:
    """The read-only view of ONE unbatched observation.

    Args:
        desc: the env's descriptor.
        obs: the raw observation: an array (Box/Discrete) or a mapping of arrays (Dict, ``desc.obs_keys``).

    Raises:
        ConfigError: a Dict observation for a Box descriptor (or the reverse), a missing key, or a
            field whose index is outside the observation.
    """
    plan = _plan(desc)
    if desc.obs_keys is None:
        if not isinstance(obs, np.ndarray) and isinstance(obs, Mapping):
            message = f"EnvDescriptor `{desc.env_id}` describes an array observation, got a mapping with keys {sorted(obs)}"
            raise _error("ConfigError", message)
        array = _frozen(np.asarray(obs))
        return ObsView(_values(desc, plan, {None: array}), array, array)
    if not isinstance(obs, Mapping):
        message = f"EnvDescriptor `{desc.env_id}` describes a Dict observation with keys {desc.obs_keys}, got an array"
        raise _error("ConfigError", message)
    missing = [k for k in desc.obs_keys if k not in obs]
    if missing:
        raise _error("ConfigError", f"EnvDescriptor `{desc.env_id}`: the observation lacks keys {missing} (it has {sorted(obs)})")
    raw = {k: _frozen(np.asarray(obs[k])) for k in desc.obs_keys}
    return ObsView(_values(desc, plan, raw), types.MappingProxyType(raw), raw[desc.obs_keys[0]])


def make_info(desc: EnvDescriptor, info: Mapping[str, Any] | None) -> Mapping[str, float]:
    """The info the function sees: a read-only mapping of exactly ``desc.info`` keys, as floats.

    A key ``<name>_<i>`` that the env does not report itself reads element ``i`` of the array
    ``info[<name>]`` (``payoff_1`` is ``info["payoff"][1]``); a key the env did not report is 0.0
    (envs report ``is_success`` only where success is defined); a bool is 0.0/1.0; a one-element
    array its element.

    Raises:
        ConfigError: a reported value that is not a number (the message names the key).
    """
    info = info or {}
    out: dict[str, float] = {}
    for key, _ in desc.info:
        value = info.get(key, _MISSING)
        if value is _MISSING:
            value = _indexed(info, key)
        try:
            out[key] = float(np.asarray(value, dtype=np.float64).reshape(-1)[0]) if np.ndim(value) else float(value)
        except (TypeError, ValueError, IndexError):
            raise _error("ConfigError", f"info[{key!r}] of `{desc.env_id}` is not a number: {value!r}") from None
    return types.MappingProxyType(out)


_MISSING = object()


def _indexed(info: Mapping[str, Any], key: str) -> Any:
    # `payoff_1` reads element 1 of the array `info["payoff"]` (multi-agent envs report arrays).
    base, sep, tail = key.rpartition("_")
    if sep and tail.isdigit() and base in info and np.ndim(info[base]) >= 1:
        flat = np.asarray(info[base]).reshape(-1)
        if int(tail) < flat.size:
            return flat[int(tail)]
    return 0.0


def make_action(desc: EnvDescriptor, action: Any) -> int | np.ndarray:
    """The action as the function sees it: a python int (discrete) or a read-only float64 ndarray (box)."""
    if desc.action_kind == "discrete":
        return int(np.asarray(action).reshape(-1)[0])
    return _frozen(np.asarray(action, dtype=np.float64))


_REGISTRY: dict[str, EnvDescriptor | Callable[[], EnvDescriptor]] = {}

_GENERIC_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # The task's own success, and a small penalty per step to prefer short episodes.
    success = 10.0 * info["is_success"]
    step_cost = -0.01
    return success + step_cost, {"success": success, "step_cost": step_cost}
'''


def register_descriptor(env_id: str, desc: EnvDescriptor | Callable[[], EnvDescriptor]) -> None:
    """Register the descriptor of ``env_id`` (or a zero-argument factory, called on first use).

    Re-registering an id replaces the previous entry.

    Raises:
        ConfigError: ``desc`` is neither an EnvDescriptor nor callable.
    """
    if not (isinstance(desc, EnvDescriptor) or callable(desc)):
        message = f"register_descriptor(`{env_id}`): expected an EnvDescriptor or a factory, got {type(desc).__name__}"
        raise _error("ConfigError", message)
    _REGISTRY[env_id] = desc


def _bound(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _action_text(space: Any) -> tuple[str, str]:
    kind = type(space).__name__
    if kind == "Discrete":
        start, n = int(space.start), int(space.n)
        return f"a python int in {{{start}, ..., {start + n - 1}}}", "discrete"
    if space is None:
        return "the env's action (unknown space)", "box"
    shape = tuple(getattr(space, "shape", ()) or ())
    text = f"a read-only float ndarray of shape {shape}"
    low, high = getattr(space, "low", None), getattr(space, "high", None)
    if low is not None and high is not None:
        lo, hi = np.min(low), np.max(high)
        if np.isfinite(lo) and np.isfinite(hi):
            text += f", each entry in [{float(lo):g}, {float(hi):g}]"
    return text, "box"


def _space_fields(space: Any, key: str | None, prefix: str) -> tuple[Field, ...]:
    kind = type(space).__name__
    if kind == "Discrete":
        start, n = int(space.start), int(space.n)
        doc = f"the observation's `{key}` (an int)" if key else "the discrete state (an int)"
        return (Field(prefix or "state", doc, low=start, high=start + n - 1, key=key, kind="int"),)
    if kind in ("Box", "MultiBinary", "MultiDiscrete") and getattr(space, "shape", None) is not None:
        shape = tuple(space.shape)
        n = math.prod(shape)
        low = np.broadcast_to(np.asarray(getattr(space, "low", -np.inf), dtype=np.float64), shape).reshape(-1)
        high = np.broadcast_to(np.asarray(getattr(space, "high", np.inf), dtype=np.float64), shape).reshape(-1)
        if kind == "MultiDiscrete":
            low, high = np.zeros(n), np.asarray(space.nvec, dtype=np.float64).reshape(-1) - 1
        elif kind == "MultiBinary":
            low, high = np.zeros(n), np.ones(n)
        if n > _GENERIC_MAX_FIELDS or len(shape) > 1:
            lo, hi = (_bound(low.min()), _bound(high.max())) if n else (None, None)
            doc = f"the whole observation array, shape {shape}"
            return (Field(prefix or "x", doc, low=lo, high=hi, key=key, kind="array"),)
        base = prefix or "x"
        return tuple(
            Field(f"{base}{i}", f"element {i} of the observation" + (f" `{key}`" if key else ""),
                  low=_bound(low[i]), high=_bound(high[i]), key=key, index=i)
            for i in range(n)
        )
    raise _error("ConfigError", f"no generic descriptor for an observation space of type {kind}")


def generic_descriptor(env_id: str | None, observation_space: Any, action_space: Any = None) -> EnvDescriptor:
    """A descriptor built from the spaces alone (no names known): ``x0..x{n-1}`` for a Box of at
    most 64 elements, one array field ``x`` for a larger or multi-dimensional Box, ``state`` for a
    Discrete observation, and one field per key (named by the key) for a Dict of those.

    Spaces are read by duck typing (``shape``/``low``/``high``, ``n``/``start``, ``spaces``), so
    this module needs no gymnasium import.

    Raises:
        ConfigError: an observation space of another type (Tuple, Graph, Text, ...).
    """
    label = env_id or "unregistered env"
    obs_keys = None
    if type(observation_space).__name__ == "Dict":
        obs_keys = tuple(observation_space.spaces)
        fields: tuple[Field, ...] = ()
        for key, sub in observation_space.spaces.items():
            usable = key.isidentifier() and not keyword.iskeyword(key) and not key.startswith("_") and key not in _RESERVED
            name = key if usable else f"k_{len(fields)}"
            sub_fields = _space_fields(sub, key, name)
            if len(sub_fields) > 1:  # a small Box under a key: one array field named by the key
                doc = f"the observation's `{key}` array, shape {tuple(sub.shape)}"
                sub_fields = (Field(name, doc, key=key, kind="array"),)
            fields += sub_fields
    else:
        fields = _space_fields(observation_space, None, "")
    action, action_kind = _action_text(action_space)
    return EnvDescriptor(
        env_id=label,
        summary=f"No named fields are registered for `{label}`; the fields below are the raw observation's elements.",
        fields=fields,
        action=action,
        action_kind=action_kind,
        info=(("is_success", "1.0 on a step where the env reports success (0.0 if it never reports it)"),),
        success="not documented for this env; the env's `is_success` info key where it reports one",
        example=_GENERIC_EXAMPLE,
        obs_keys=obs_keys,
    )


def check_descriptor(desc: EnvDescriptor, observation_space: Any) -> None:
    """Check that every field of ``desc`` reads inside ``observation_space`` (duck-typed, as above).

    Catches a registered descriptor used with another configuration of its env (a subset of
    ``observation_keys``, fewer agents) before the sandbox worker meets it.

    Raises:
        ConfigError: a Dict descriptor for an array space (or the reverse), a missing key, or a field
            index beyond the flattened size of its array (the message names the field).
    """
    subspaces = getattr(observation_space, "spaces", None)
    is_dict = isinstance(subspaces, Mapping)
    label = f"EnvDescriptor `{desc.env_id}`"
    fix = "; build a descriptor for this configuration and pass it explicitly"
    if (desc.obs_keys is not None) != is_dict:
        what = "a Dict" if desc.obs_keys is not None else "an array"
        space_kind = type(observation_space).__name__
        raise _error("ConfigError", f"{label} describes {what} observation, but the observation space is {space_kind}{fix}")
    if is_dict:
        missing = [k for k in desc.obs_keys if k not in subspaces]
        if missing:
            message = f"{label} reads keys {missing} that the observation space lacks (it has {sorted(subspaces)}){fix}"
            raise _error("ConfigError", message)
    for f in desc.fields:
        sub = subspaces[f.key] if is_dict else observation_space
        shape = getattr(sub, "shape", None)
        if shape is None or f.index is None:
            continue
        size = math.prod(tuple(shape))
        top = f.index if isinstance(f.index, int) else max(f.index, default=-1)
        if top >= size:
            where = f" `{f.key}`" if f.key else ""
            message = f"{label}: field `{f.name}` reads index {top}, but the observation{where} has {size} elements{fix}"
            raise _error("ConfigError", message)


def descriptor_for(env_id: str | None, observation_space: Any = None, action_space: Any = None) -> EnvDescriptor:
    """The registered descriptor of ``env_id``, else a generic one built from ``observation_space``.

    Args:
        env_id: a registered env id (``rewardlab/Sparse-MountainCar-v0``) or None.
        observation_space: builds the generic descriptor when ``env_id`` has none registered; with a
            registered one, :func:`check_descriptor` checks the descriptor against it.
        action_space: likewise (the action's kind and range).

    Raises:
        ConfigError: ``env_id`` is not registered and no observation space was given (the message
            names the id and suggests the nearest registered one), or the registered descriptor does
            not fit the given observation space.
    """
    if env_id is not None and env_id in _REGISTRY:
        entry = _REGISTRY[env_id]
        if not isinstance(entry, EnvDescriptor):
            entry = entry()
            if not isinstance(entry, EnvDescriptor):
                message = f"the descriptor factory of `{env_id}` returned {type(entry).__name__}, not an EnvDescriptor"
                raise _error("ConfigError", message)
            _REGISTRY[env_id] = entry
        if observation_space is not None:
            check_descriptor(entry, observation_space)
        return entry
    if observation_space is None:
        raise _error(
            "ConfigError",
            f"no env descriptor is registered for `{env_id}` and no observation space was given to build a generic one."
            + (_did_you_mean(env_id, _REGISTRY) if env_id else ""),
        )
    return generic_descriptor(env_id, observation_space, action_space)
