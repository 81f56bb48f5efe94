"""The reward-term protocol and its composition algebra.

A reward term maps a batched :class:`Transition` (leading dimension ``N``, the number of
sub-environments; ``N = 1`` for a single env) to an array of ``N`` rewards. Terms compose into an
expression tree with Python operators::

    EnvReward() + PBRS("energy", gamma=0.99) + 0.1 * (GlobalCount("pos") * EpisodicCount("pos"))

and the same tree round-trips through a plain dict (:meth:`Term.to_config` / :func:`from_config`).

Classes: :class:`Transition`, :class:`Term`, :class:`Sum`, :class:`Scale`, :class:`Product`,
:class:`Constant`, :class:`EnvReward`, :class:`FromFunction`; functions :func:`from_config`,
:func:`register_term`.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from rewardlab._array import batch_obs, namespace
from rewardlab.errors import ConfigError, InvalidParameter, did_you_mean

__all__ = [
    "Transition",
    "SingleTransition",
    "Term",
    "Sum",
    "Scale",
    "Product",
    "Constant",
    "EnvReward",
    "FromFunction",
    "from_config",
    "register_term",
    "TERM_TYPES",
    "callable_to_ref",
    "ref_to_callable",
    "evaluate",
    "evaluate_components",
    "where",
]


@dataclass
class Transition:
    """One batched step of ``N`` sub-environments.

    Every array has leading dimension ``N``. ``next_obs`` is the true successor: on a done it is the
    final observation of the episode, never the auto-reset one. ``valid`` is False on the dummy steps
    of Gymnasium's NEXT_STEP autoreset; terms return 0 there and leave their statistics untouched.
    """

    obs: Any
    action: Any
    next_obs: Any
    reward: Any  # (N,) the env's own reward
    terminated: Any  # (N,) bool
    truncated: Any  # (N,) bool
    valid: Any  # (N,) bool
    info: Any = field(default_factory=dict)

    @property
    def num_envs(self) -> int:
        return int(self.reward.shape[0])


@dataclass(slots=True)
class SingleTransition:
    """One step of a single, unbatched env: observations without a batch axis, Python scalars.

    The single-env fronts evaluate terms on this form (see :meth:`Term.single`), because at N = 1
    numpy's fixed cost per call (~1 µs) is many times the arithmetic of a reward term. It has the
    field names of :class:`Transition` (``valid`` is always True: a single env has no dummy steps),
    so a formula written in arithmetic that works on floats and arrays alike serves both forms.
    :meth:`batched` gives the equivalent N = 1 :class:`Transition` for terms without a scalar form.
    """

    obs: Any
    action: Any
    next_obs: Any
    reward: float
    terminated: bool
    truncated: bool
    info: Any = field(default_factory=dict)
    _batched: Transition | None = field(default=None, repr=False)

    @property
    def valid(self) -> bool:
        return True

    def batched(self) -> Transition:
        """This step as a :class:`Transition` with N = 1 (built once)."""
        if self._batched is None:
            self._batched = Transition(
                batch_obs(self.obs),
                None if self.action is None else batch_obs(self.action),
                batch_obs(self.next_obs),
                np.array([self.reward], dtype=np.float64),
                np.array([self.terminated]),
                np.array([self.truncated]),
                np.ones(1, dtype=bool),
                self.info,
            )
        return self._batched


TERM_TYPES: dict[str, type[Term]] = {}


def register_term(cls: type[Term]) -> type[Term]:
    """Class decorator: make a term type constructible from config by its class name."""
    TERM_TYPES[cls.__name__] = cls
    return cls


class Term:
    """Base class of reward terms.

    Subclasses call ``super().__init__(name, **params)`` with their constructor arguments (so the
    term can be written back to a config), and implement :meth:`__call__`. Stateful terms keep
    per-sub-env arrays, clear them in :meth:`reset` for the masked sub-envs, and skip updates where
    ``transition.valid`` is False.

    One formula serves both paths. The single-env wrappers call :meth:`single` /
    :meth:`single_components` on a :class:`SingleTransition`; by default that is the batched formula
    at N = 1. A term whose ``__call__`` (and ``components``) is written in arithmetic that works on
    Python floats and arrays alike (children through :func:`evaluate`, masks through :func:`where`)
    sets ``scalar_formula = True``, and the same code then runs on floats, with no arrays built.
    """

    #: Names of constructor parameters that hold child terms (a Term or a list of Terms).
    child_params: ClassVar[tuple[str, ...]] = ()
    #: Names of constructor parameters that hold callables, serialised as "module:qualname".
    callable_params: ClassVar[tuple[str, ...]] = ()
    #: True when ``__call__`` and ``components`` also accept a :class:`SingleTransition` (floats in, a float out).
    scalar_formula: ClassVar[bool] = False

    def __init__(self, name: str | None = None, **params: Any):
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidParameter(f"`name` must be a non-empty string. Received {name!r}")
        self._explicit_name = name
        self._params = params
        self.name = name if name is not None else self.default_name()

    # --- the protocol -------------------------------------------------------------------------
    def default_name(self) -> str:
        return type(self).__name__.lower()

    def reset(self, mask: Any, obs: Any) -> None:
        """Clear episodic state of the sub-envs where ``mask`` (shape ``(N,)``) is True; ``obs`` is the batch of first observations."""
        for child in self.children():
            child.reset(mask, obs)

    def __call__(self, t: Transition) -> Any:
        """Reward of this term for each sub-env, shape ``(N,)``."""
        raise NotImplementedError

    def components(self, t: Transition) -> dict[str, Any]:
        """This term's value split into named parts that sum to it (one part unless it is a sum)."""
        return {self.name: self(t)}

    def single(self, s: SingleTransition) -> float:
        """The term's value on one unbatched step: its formula on floats when ``scalar_formula``,
        else the batched formula at N = 1 (same state either way)."""
        if self.scalar_formula:
            return self(s)  # type: ignore[arg-type]
        return float(self(s.batched())[0])

    def single_components(self, s: SingleTransition) -> dict[str, float]:
        """:meth:`components` for one unbatched step."""
        if self.scalar_formula:
            return self.components(s)  # type: ignore[arg-type]
        return {self.name: self.single(s)}

    def bind(self, env_id: str | None) -> None:
        """Resolve names that depend on the environment (named potentials) for the env `env_id`."""
        for child in self.children():
            child.bind(env_id)

    def state_dict(self) -> dict[str, Any]:
        return {f"{i}": c.state_dict() for i, c in enumerate(self.children())}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for i, c in enumerate(self.children()):
            c.load_state_dict(state[f"{i}"])

    # --- tree helpers -------------------------------------------------------------------------
    def children(self) -> list[Term]:
        out: list[Term] = []
        for key in self.child_params:
            value = self._params[key]
            out.extend(value if isinstance(value, list) else [value])
        return out

    def walk(self) -> Iterator[Term]:
        """This term and every term below it, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()

    # --- config round trip --------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """A YAML/JSON-friendly dict with the type and every non-default constructor argument."""
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.default is not inspect.Parameter.empty
        }
        cfg: dict[str, Any] = {"type": type(self).__name__}
        for key, value in self._params.items():
            if key in self.child_params:
                value = [v.to_config() for v in value] if isinstance(value, list) else value.to_config()
            elif key in self.callable_params and callable(value):
                value = callable_to_ref(value)
            if key in defaults and _same(value, defaults[key]):
                continue
            cfg[key] = value
        if self._explicit_name is not None:
            cfg["name"] = self._explicit_name
        return cfg

    def __repr__(self) -> str:
        def show(key: str, value: Any) -> str:
            if key in self.callable_params and callable(value):
                return getattr(value, "__qualname__", repr(value))
            return repr(value)

        args = [f"{k}={show(k, v)}" for k, v in self._params.items()]
        if self._explicit_name is not None:
            args.append(f"name={self._explicit_name!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    # --- algebra ------------------------------------------------------------------------------
    def __add__(self, other: Term) -> Sum:
        if not isinstance(other, Term):
            return NotImplemented
        return Sum(_flatten_sum(self) + _flatten_sum(other))

    def __sub__(self, other: Term) -> Sum:
        if not isinstance(other, Term):
            return NotImplemented
        return self + Scale(other, -1.0)

    def __neg__(self) -> Scale:
        return Scale(self, -1.0)

    def __mul__(self, other: Term | float) -> Term:
        if isinstance(other, Term):
            return Product(_flatten_product(self) + _flatten_product(other))
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return Scale(self, float(other))
        return NotImplemented

    __rmul__ = __mul__


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def evaluate(term: Term, t: Transition | SingleTransition) -> Any:
    """A child's value on either form of a step: ``term.single(t)`` (a float) or ``term(t)`` (an array)."""
    return term.single(t) if type(t) is SingleTransition else term(t)


def evaluate_components(term: Term, t: Transition | SingleTransition) -> dict[str, Any]:
    """A child's named parts on either form of a step."""
    return term.single_components(t) if type(t) is SingleTransition else term.components(t)


def where(cond: Any, a: Any, b: Any, like: Any = None) -> Any:
    """``a`` where ``cond`` else ``b``, for a Python bool (the single-env path) or an array of them.

    ``like`` gives the dtype of Python-number branches for non-numpy arrays (torch).

    Example:
        >>> where(True, 2.0, 0.0), where(np.array([True, False]), 2.0, 0.0)
        (2.0, array([2., 0.]))
    """
    if type(cond) is bool or type(cond) is np.bool_:  # one step's flag (a float path)
        return a if cond else b
    if isinstance(cond, (np.ndarray, np.bool_)):
        return np.where(cond, a, b)
    xp = namespace(cond)
    dtype = None if like is None else like.dtype
    a = a if hasattr(a, "shape") else xp.asarray(a, dtype=dtype)
    b = b if hasattr(b, "shape") else xp.asarray(b, dtype=dtype)
    return xp.where(cond, a, b)


def _is_leaf(term: Term) -> bool:
    # Leaves report one part named after themselves; sums and scales report their children's parts.
    cls = type(term)
    return cls.components is Term.components and cls.single_components is Term.single_components


def _add_part(out: dict[str, Any], key: str, value: Any) -> None:
    if key in out:  # two leaves with one name (e.g. two PBRS terms) stay separate entries
        i = 2
        while f"{key}_{i}" in out:
            i += 1
        key = f"{key}_{i}"
    out[key] = value


def _flatten_sum(t: Term) -> list[Term]:
    return list(t._params["terms"]) if type(t) is Sum and t._explicit_name is None else [t]


def _flatten_product(t: Term) -> list[Term]:
    return list(t._params["terms"]) if type(t) is Product and t._explicit_name is None else [t]


def _check_terms(terms: Any, where: str) -> list[Term]:
    if not isinstance(terms, (list, tuple)) or not terms:
        raise InvalidParameter(f"`{where}` needs a non-empty list of terms. Received {terms!r}")
    for t in terms:
        if not isinstance(t, Term):
            raise InvalidParameter(f"`{where}` items must be reward terms. Received {t!r}")
    return list(terms)


@register_term
class Sum(Term):
    """Sum of terms; its parts are reported separately in ``info["reward_terms"]``.

    Example:
        >>> import numpy as np
        >>> t = Transition(None, None, None, np.array([1.0, 2.0]), np.zeros(2, bool), np.zeros(2, bool), np.ones(2, bool))
        >>> term = EnvReward() + Constant(0.5)
        >>> term(t)
        array([1.5, 2.5])
        >>> {k: v.tolist() for k, v in term.components(t).items()}
        {'env': [1.0, 2.0], 'constant': [0.5, 0.5]}
    """

    child_params = ("terms",)
    scalar_formula = True

    def __init__(self, terms: list[Term], name: str | None = None):
        super().__init__(name, terms=_check_terms(terms, "Sum.terms"))
        # Built once: this runs every step, and the tree does not change after construction.
        self._plan = tuple((c, _is_leaf(c)) for c in self._params["terms"])

    def __call__(self, t: Transition) -> Any:
        values = iter(self.components(t).values())
        total = next(values)
        for value in values:
            total = total + value
        return total

    def components(self, t: Transition) -> dict[str, Any]:
        single = type(t) is SingleTransition
        out: dict[str, Any] = {}
        for child, leaf in self._plan:
            if leaf:
                _add_part(out, child.name, child.single(t) if single else child(t))
            else:
                for key, value in (child.single_components(t) if single else child.components(t)).items():
                    _add_part(out, key, value)
        return out


@register_term
class Scale(Term):
    """A term multiplied by a constant weight (also ``c * term``); keeps its parts' names.

    Example:
        >>> import numpy as np
        >>> t = Transition(None, None, None, np.array([2.0]), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> (0.5 * EnvReward()).components(t)
        {'env': array([1.])}
    """

    child_params = ("term",)
    scalar_formula = True

    def __init__(self, term: Term, scale: float, name: str | None = None):
        # A non-finite or non-numeric weight would silently turn every reward into NaN.
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
            raise InvalidParameter(f"`scale` must be a finite number. Received {scale!r}")
        super().__init__(name, term=_check_terms([term], "Scale.term")[0], scale=float(scale))

    def default_name(self) -> str:
        return self._params["term"].name

    def __call__(self, t: Transition) -> Any:
        return self._params["scale"] * evaluate(self._params["term"], t)

    def components(self, t: Transition) -> dict[str, Any]:
        if self._explicit_name is not None:
            return {self.name: self(t)}
        c = self._params["scale"]
        return {k: c * v for k, v in evaluate_components(self._params["term"], t).items()}


@register_term
class Product(Term):
    """Element-wise product of terms, e.g. an episodic indicator times a global count bonus.

    Example:
        >>> import numpy as np
        >>> t = Transition(None, None, None, np.array([3.0]), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> (EnvReward() * Constant(2.0))(t)
        array([6.])
    """

    child_params = ("terms",)
    scalar_formula = True

    def __init__(self, terms: list[Term], name: str | None = None):
        super().__init__(name, terms=_check_terms(terms, "Product.terms"))

    def default_name(self) -> str:
        return "*".join(c.name for c in self._params["terms"])

    def __call__(self, t: Transition) -> Any:
        children = iter(self._params["terms"])
        out = evaluate(next(children), t)
        for child in children:
            out = out * evaluate(child, t)
        return out


@register_term
class Constant(Term):
    """A constant reward per real step (0 on dummy autoreset steps), e.g. a living cost.

    Example:
        >>> import numpy as np
        >>> t = Transition(None, None, None, np.zeros(2), np.zeros(2, bool), np.zeros(2, bool), np.array([True, False]))
        >>> Constant(-0.01)(t)
        array([-0.01,  0.  ])
    """

    def __init__(self, value: float, name: str | None = None):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidParameter(f"`value` must be a finite number. Received {value!r}")
        super().__init__(name, value=float(value))

    scalar_formula = True

    def __call__(self, t: Transition) -> Any:
        return where(t.valid, self._params["value"], 0.0, like=t.reward)


@register_term
class EnvReward(Term):
    """The environment's own reward, as paid. Named ``env`` unless named otherwise.

    Example:
        >>> import numpy as np
        >>> t = Transition(None, None, None, np.array([1.0, -1.0]), np.zeros(2, bool), np.zeros(2, bool), np.ones(2, bool))
        >>> EnvReward()(t)
        array([ 1., -1.])
    """

    def __init__(self, name: str | None = None):
        super().__init__(name)

    def default_name(self) -> str:
        return "env"

    scalar_formula = True

    def __call__(self, t: Transition) -> Any:
        return t.reward


def callable_to_ref(fn: Callable[..., Any]) -> str:
    """'module:qualname' for an importable function, so configs can name it."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if module is None or "<" in qualname or module == "__main__":
        raise ConfigError(
            f"Cannot write {fn!r} to a config: only functions importable as 'module:name' can be; "
            "define it at module level in an importable module"
        )
    return f"{module}:{qualname}"


def ref_to_callable(ref: str, what: str) -> Callable[..., Any]:
    """Import a 'module:qualname' reference, with an error naming the parameter on failure."""
    if not isinstance(ref, str) or ":" not in ref:
        raise ConfigError(f"`{what}` must be a callable or a 'module:name' string. Received {ref!r}")
    module_name, qualname = ref.split(":", 1)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"`{what}` refers to {ref!r}, which cannot be imported: {e}") from e
    if not callable(obj):
        raise ConfigError(f"`{what}` refers to {ref!r}, which is not callable")
    return obj


@register_term
class FromFunction(Term):
    """A term computed by a user function ``fn(transition) -> array[N]``.

    In configs ``fn`` is a 'module:name' string. The function must return 0 where
    ``transition.valid`` is False if it keeps statistics; the wrapper masks its output anyway.

    Example:
        >>> import numpy as np
        >>> def speed_bonus(t): return 0.1 * np.abs(t.next_obs[:, 1])
        >>> t = Transition(None, None, np.array([[0.0, -2.0]]), np.zeros(1), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> FromFunction(speed_bonus)(t)
        array([0.2])
    """

    callable_params = ("fn",)

    def __init__(self, fn: Callable[[Transition], Any] | str, name: str | None = None):
        self._fn = ref_to_callable(fn, "FromFunction.fn") if isinstance(fn, str) else fn
        if not callable(self._fn):
            raise InvalidParameter(f"`fn` must be callable or a 'module:name' string. Received {fn!r}")
        super().__init__(name, fn=fn)

    def default_name(self) -> str:
        return getattr(self._fn, "__name__", "function")

    def __call__(self, t: Transition) -> Any:
        xp = namespace(t.reward)
        value = xp.asarray(self._fn(t), dtype=t.reward.dtype)
        if value.shape != t.reward.shape:
            raise InvalidParameter(
                f"FromFunction `{self.name}` returned shape {tuple(value.shape)}; expected {tuple(t.reward.shape)} (one value per sub-env)"
            )
        return xp.where(t.valid, value, xp.zeros_like(value))


def from_config(cfg: Mapping[str, Any] | str | Term) -> Term:
    """Build a term tree from its config dict (the inverse of :meth:`Term.to_config`).

    A bare string is shorthand for a term without arguments (``"EnvReward"``). Unknown types and
    unknown keys raise :class:`~rewardlab.errors.ConfigError` naming them.

    Example:
        >>> term = from_config({"type": "Sum", "terms": ["EnvReward", {"type": "Constant", "value": -0.01}]})
        >>> term.to_config()
        {'type': 'Sum', 'terms': [{'type': 'EnvReward'}, {'type': 'Constant', 'value': -0.01}]}
    """
    if isinstance(cfg, Term):
        return cfg
    if isinstance(cfg, str):
        cfg = {"type": cfg}
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"A reward term config must be a dict or a type name. Received {cfg!r}")
    if "type" not in cfg:
        raise ConfigError(f"A reward term config needs a `type` key (one of {sorted(TERM_TYPES)}). Received {dict(cfg)!r}")
    type_name = cfg["type"]
    _ensure_builtin_terms_loaded()
    # a list or dict here would raise a bare TypeError (unhashable) in the lookup below
    if not isinstance(type_name, str):
        raise ConfigError(f"`type` must be a term type name (a string, one of {sorted(TERM_TYPES)}). Received {type_name!r}")
    if type_name not in TERM_TYPES:
        raise ConfigError(f"Unknown reward term type `{type_name}`.{did_you_mean(str(type_name), TERM_TYPES)}")
    cls = TERM_TYPES[type_name]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    kwargs: dict[str, Any] = {}
    for key, value in cfg.items():
        if key == "type":
            continue
        if key not in allowed:
            raise ConfigError(
                f"Unknown key `{key}` for reward term `{type_name}` (allowed: {allowed}).{did_you_mean(key, allowed)}"
            )
        if key in cls.child_params:
            value = [from_config(v) for v in value] if isinstance(value, list) else from_config(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"Bad arguments for reward term `{type_name}`: {e}") from e


def _ensure_builtin_terms_loaded() -> None:
    # Importing the package registers every built-in term type.
    importlib.import_module("rewardlab.shaping")

