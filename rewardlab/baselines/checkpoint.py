"""Checkpoints of a training run: one file per run folder, written atomically, and the random states.

A trainer that takes ``checkpoint_dir`` saves a ``state`` dict there at rollout boundaries and, when
it starts, resumes from the one it finds. A run killed mid-write leaves the previous checkpoint in
place (temporary file, fsync, rename: :func:`rewardlab._io.write_atomic`), so a resumed run never
reads half a file. What goes into ``state`` is the trainer's business: networks' and optimisers'
``state_dict()``, the random states (:func:`rng_state`), counters, logs so far, the env itself
where it pickles.

Vector envs go in as bytes (:func:`dump_envs`, :func:`load_envs`): rewardlab's batched envs
(gridhack, coopetition) and ``SyncVectorEnv`` stacks of picklable envs (classic control, MuJoCo,
gridhack singles) with their shaping wrappers and term trees. A ``SyncVectorEnv`` built by
``gym.make_vec`` holds local factory functions that do not pickle; they only serve construction,
so they are left out (the restored env's ``env_fns`` is empty). What does not pickle: an
``AsyncVectorEnv`` (worker processes and pipes) and terms holding live resources (an LLM client, a
sandbox worker); :func:`dump_envs` returns None for them and the trainer says what it does instead.

Functions: :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`rng_state`, :func:`set_rng_state`,
:func:`dump_envs`, :func:`load_envs`.
"""

from __future__ import annotations

import io
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rewardlab._io import write_atomic

__all__ = ["CHECKPOINT_FILE", "save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "dump_envs", "load_envs"]

#: The file name inside a run's checkpoint folder.
CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(folder: str | Path, state: dict[str, Any]) -> None:
    """``torch.save`` `state` into ``folder/checkpoint.pt``, atomically (the folder is created).

    Args:
        folder: the run's checkpoint folder.
        state: anything ``torch.save`` can pickle (tensors, state dicts, numpy arrays, plain objects).

    Raises:
        OSError: the folder cannot be written.

    Example:
        >>> import tempfile, torch
        >>> folder = tempfile.mkdtemp()
        >>> save_checkpoint(folder, {"global_step": 64, "weights": torch.ones(2)})
        >>> state = load_checkpoint(folder)
        >>> state["global_step"], state["weights"].tolist()
        (64, [1.0, 1.0])
        >>> load_checkpoint(folder + "/nothing-here") is None
        True
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(folder / CHECKPOINT_FILE, buffer.getvalue())


def load_checkpoint(folder: str | Path | None) -> dict[str, Any] | None:
    """The state saved in ``folder/checkpoint.pt``, or None when `folder` is None or holds none.

    The file is rewardlab's own (written by :func:`save_checkpoint`), so it is loaded with
    ``weights_only=False``: it holds pickled envs and term trees, not only tensors. Load only
    checkpoints you wrote.
    """
    if folder is None:
        return None
    path = Path(folder) / CHECKPOINT_FILE
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def rng_state(*generators: torch.Generator) -> dict[str, Any]:
    """The random states a run draws from: torch's global (and CUDA's, where initialised), numpy's
    global, python's ``random``, and each of `generators` in order.

    Example:
        >>> g = torch.Generator().manual_seed(3)
        >>> state = rng_state(g)
        >>> a = (torch.rand(1).item(), torch.rand(1, generator=g).item(), np.random.rand(), random.random())
        >>> set_rng_state(state, g)
        >>> a == (torch.rand(1).item(), torch.rand(1, generator=g).item(), np.random.rand(), random.random())
        True
    """
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "generators": [g.get_state() for g in generators],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], *generators: torch.Generator) -> None:
    """Restore what :func:`rng_state` returned; `generators` in the same order as when it was taken.

    Raises:
        ValueError: a different number of generators than were saved.
    """
    saved = state["generators"]
    if len(saved) != len(generators):
        raise ValueError(f"The checkpoint holds {len(saved)} torch generator states; {len(generators)} generators were given")
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    for g, s in zip(generators, saved):
        g.set_state(s)  # a CPU ByteTensor for CPU and CUDA generators alike
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class _EnvPickler(pickle.Pickler):
    """Pickles a ``SyncVectorEnv`` without its ``env_fns`` (factories used only by ``__init__``)."""

    def reducer_override(self, obj: Any) -> Any:
        from gymnasium.vector import SyncVectorEnv

        if type(obj) is SyncVectorEnv:
            state = {k: v for k, v in vars(obj).items() if k != "env_fns"}
            return _new_sync_vector_env, (), state
        return NotImplemented


def _new_sync_vector_env() -> Any:
    from gymnasium.vector import SyncVectorEnv

    env = SyncVectorEnv.__new__(SyncVectorEnv)
    env.env_fns = ()
    return env


def dump_envs(envs: Any) -> bytes | None:
    """`envs` (a vector env and its wrappers, term trees included) as bytes, or None when it does not pickle.

    Example:
        >>> import gymnasium as gym, numpy as np
        >>> envs = gym.make_vec("CartPole-v1", 2, vectorization_mode="sync")
        >>> _ = envs.reset(seed=0)
        >>> copy = load_envs(dump_envs(envs))
        >>> a = np.array([0, 1])
        >>> bool(np.array_equal(envs.step(a)[0], copy.step(a)[0]))  # the copy continues the same episodes
        True
    """
    buffer = io.BytesIO()
    try:
        _EnvPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(envs)
    except Exception:  # noqa: BLE001 - anything unpicklable (processes, locks, local functions) means "not saved"
        return None
    return buffer.getvalue()


def load_envs(data: bytes) -> Any:
    """The vector env :func:`dump_envs` saved (a trusted checkpoint's bytes only: this unpickles)."""
    return pickle.loads(data)
