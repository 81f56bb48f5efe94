"""Named state potentials that environments publish for potential-based shaping.

A potential is a batched callable ``phi(obs) -> array[N]`` on observations with a leading batch
dimension (a dict of such arrays for dict observations). Environments register theirs under their
id, and configs refer to them by name: ``{"type": "PBRS", "potential": "energy", "gamma": 0.99}``.

Functions: :func:`register_potentials`, :func:`potentials_for`, :func:`resolve_potential`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rewardlab.errors import ConfigError, did_you_mean

__all__ = ["Potential", "register_potentials", "potentials_for", "resolve_potential"]

Potential = Callable[[Any], Any]

_REGISTRY: dict[str, dict[str, Potential]] = {}


def register_potentials(env_id: str, potentials: dict[str, Potential]) -> None:
    """Publish named potentials for `env_id` (adds to any already registered)."""
    _REGISTRY.setdefault(env_id, {}).update(potentials)


def potentials_for(env_id: str) -> dict[str, Potential]:
    """The named potentials of `env_id` (empty when it publishes none).

    Env families publish theirs when :mod:`rewardlab.envs` registers them, which importing
    :mod:`rewardlab` does.

    Example:
        >>> import numpy as np, rewardlab
        >>> phi = potentials_for("MountainCar-v0")["energy"]
        >>> phi(np.array([[-np.pi / 6, 0.0], [np.pi / 6, 0.0]])).round(3)
        array([-0.5,  0.5])
    """
    return dict(_REGISTRY.get(env_id, {}))


def resolve_potential(potential: str | Potential, env_id: str | None) -> Potential:
    """A callable potential from a callable, a name the env publishes, or a 'module:name' string."""
    if callable(potential):
        return potential
    if not isinstance(potential, str):
        raise ConfigError(f"`potential` must be a name, a 'module:name' string or a callable. Received {potential!r}")
    if ":" in potential:
        from rewardlab.shaping.terms import ref_to_callable

        return ref_to_callable(potential, "potential")
    if env_id is None:
        raise ConfigError(
            f"Potential `{potential}` is a name, and names are resolved against the env id, but the env has no "
            "spec id. Pass the potential as a callable or a 'module:name' string instead."
        )
    named = potentials_for(env_id)
    if potential not in named:
        raise ConfigError(
            f"Env `{env_id}` publishes no potential `{potential}` (it publishes {sorted(named)}).{did_you_mean(potential, named)}"
        )
    return named[potential]
