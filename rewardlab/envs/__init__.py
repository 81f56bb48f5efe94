"""Environment families, registered under the ``rewardlab/`` namespace on import.

Each family module exposes ``register_envs()``; it registers its Gymnasium ids (with
``entry_point`` and, where the family is batched, ``vector_entry_point``), and publishes its named
potentials with :func:`rewardlab.shaping.register_potentials`.
"""

from __future__ import annotations

import gymnasium as gym

from rewardlab.envs import control, coopetition, gridhack

__all__ = ["list_ids", "describe"]

NAMESPACE = "rewardlab"

for _family in (control, coopetition, gridhack):
    _family.register_envs()


def list_ids() -> list[str]:
    """Every registered ``rewardlab/`` env id, sorted."""
    return sorted(env_id for env_id in gym.registry if env_id.startswith(f"{NAMESPACE}/"))


def describe(env_id: str) -> str:
    """A one-line description of a registered env: its entry point's docstring summary and registered kwargs.

    An entry point whose ids differ only by kwargs may define ``describe(**kwargs) -> str`` to say more.
    """
    spec = gym.spec(env_id)
    entry = spec.entry_point
    if isinstance(entry, str):
        entry = gym.envs.registration.load_env_creator(entry)
    if callable(getattr(entry, "describe", None)):
        return entry.describe(**spec.kwargs)
    doc = (getattr(entry, "__doc__", None) or "").strip()
    summary = doc.splitlines()[0] if doc else ""
    # Ids that share one class differ by their registered kwargs (e.g. reward="dense"); show them.
    if spec.kwargs:
        summary += " [" + ", ".join(f"{k}={v!r}" for k, v in spec.kwargs.items()) + "]"
    return summary
