"""Finite MDPs of real envs, by enumeration: ``tabular_mdp(env_id) -> TabularMDP``.

Supported families and how their tables are built:

* Gymnasium toy-text (``FrozenLake-v1`` either ``is_slippery``, ``FrozenLake8x8-v1``,
  ``CliffWalking-v1``, ``Taxi-v3``/``v4``): read from ``env.unwrapped.P``. A missing version falls
  back to the registered one (this gymnasium has ``CliffWalking-v1`` and ``Taxi-v4``). The states
  entered with ``terminated`` become absorbing. Taxi's ``P`` also holds 96 states with the
  passenger already delivered that no episode reaches; they stay in the table as ``P`` has them.
* MiniGrid (``MiniGrid-*`` ids, and rewardlab's ``Sparse-*`` MiniGrid tasks): breadth-first search
  over the states reachable from ``reset(seed=seed)``, setting the env's state (grid, agent
  position and direction, carried object) and stepping every action. Levels must be small: past
  ``max_states`` states the search stops with :class:`NotTabular` (DoorKey-8x8, where a key can be
  dropped on any cell, is far too large; Empty-*, DoorKey-5x5 and LavaGapS5 are a few hundred).
  MiniGrid's success reward ``1 - 0.9 t / max_steps`` depends on the step count, which is not part
  of the state: the table holds its value at ``t = 0``, 1.0 (rewardlab's sparse reward); time
  limits are not modelled. Observations are rewardlab's flat MiniGrid encoding
  (:func:`rewardlab.envs.control.minigrid_tasks.encode_state`), so that its potentials apply.
* gridhack (``rewardlab/Gridhack-*``): breadth-first search over the states of the level that
  ``reset(seed=seed)`` draws, restoring the core's state arrays and stepping every action. Only
  tasks without in-episode randomness are enumerable: monsters and kicks roll a hash of the step
  counter, so with them a state without the counter is not Markov and with it no state repeats
  (:class:`NotTabular` says so). A state is the map (doors opened, items taken, lava frozen; every
  dungeon level of Staircase tasks), the bottom line without the turn counter, the pending
  direction prompt and the message; observations hold turn 0 and time limits are not modelled.
  Small levels only: one level of Corridors-R5 has ~200 states, MultiRoom-N6-Lava ~800, KeyRoom-S10,
  Levitate-* and LavaCross ~1,100; Freeze-* has more than 20,000 (every frozen cell is part of the
  state). Past ``max_states`` the search stops with :class:`NotTabular`.

In every table terminal states are absorbing (self-loop with probability 1, reward 0) and marked
in ``terminal``; ``obs[s]`` is what the env emits in state ``s``.

Functions: :func:`tabular_mdp`; error :class:`NotTabular`.
"""

from __future__ import annotations

import importlib
import re
from collections import deque
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from rewardlab.errors import InvalidParameter, MissingExtraError, RewardlabError
from rewardlab.shaping.metrics import TabularMDP

__all__ = ["tabular_mdp", "NotTabular", "TOY_TEXT"]

#: The toy-text families read from ``P``, by id name (any version).
TOY_TEXT = ("FrozenLake", "FrozenLake8x8", "CliffWalking", "Taxi")


class NotTabular(RewardlabError, ValueError):
    """The env has no exact finite table here (continuous, too many states, or not Markov in its state)."""


def _resolve_id(env_id: str) -> str:
    """`env_id`, or the registered version of the same name when that version is absent.

    The ``"module:id"`` form imports the module first (its import registers the id), as ``gym.make`` does.
    """
    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        importlib.import_module(module)
    if env_id in gym.registry:
        return env_id
    try:
        ns, name, _ = gym.envs.registration.parse_env_id(env_id)
    except gym.error.Error as e:
        raise InvalidParameter(f"`{env_id}` is not a Gymnasium id: {e}") from e
    same = sorted(k for k in gym.registry if gym.envs.registration.parse_env_id(k)[:2] == (ns, name))
    if not same:
        raise InvalidParameter(f"Environment `{env_id}` is not registered")
    return same[-1]


def tabular_mdp(env_id: str, *, gamma: float = 0.99, seed: int = 0, max_states: int = 2000, **kwargs: Any) -> TabularMDP:
    """The exact finite MDP of `env_id` (see the module docstring for the supported families).

    Args:
        env_id: a Gymnasium id; kwargs (``is_slippery=False``, ``map_name="8x8"``) go to ``gym.make``.
        gamma: stored on the MDP for the studies that use it.
        seed: the ``reset`` seed that fixes a MiniGrid layout (unused by toy-text).
        max_states: the most states a MiniGrid enumeration may find before it gives up.

    Raises:
        NotTabular: for an env family or level this cannot enumerate, saying why.
        InvalidParameter: for an unregistered id.

    Example:
        >>> mdp = tabular_mdp("FrozenLake-v1", is_slippery=False)
        >>> mdp.transitions.shape, mdp.terminal.sum(), float(mdp.initial[0])
        ((16, 4, 16), np.int64(5), 1.0)
    """
    if env_id.startswith("MiniGrid-"):
        try:
            import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
        except ImportError as e:
            raise MissingExtraError(f"tabular_mdp(`{env_id}`)", "minigrid", e) from e
    resolved = _resolve_id(env_id)
    _, name, _ = gym.envs.registration.parse_env_id(resolved)
    if name in TOY_TEXT and resolved.split("/")[0] != "tabular":
        return _toy_text(resolved, gamma, **kwargs)
    if resolved.startswith("MiniGrid-") or re.fullmatch(r"rewardlab/Sparse-(DoorKey|KeyCorridor|MultiRoom)-.*", resolved):
        return _minigrid(resolved, gamma, seed, max_states, **kwargs)
    if resolved.startswith("rewardlab/Gridhack-"):
        return _gridhack(resolved, gamma, seed, max_states, **kwargs)
    raise NotTabular(
        f"`{env_id}` has no exact tabular form here; tabular_mdp supports {', '.join(TOY_TEXT)} (toy-text) and "
        "small MiniGrid levels. For continuous envs use rewardlab.shaping.metrics.sampled_starc_distance"
    )


def _toy_text(env_id: str, gamma: float, **kwargs: Any) -> TabularMDP:
    """Tables from ``P[s][a] = [(p, s', r, terminated), ...]``; the states entered with termination become absorbing."""
    env = gym.make(env_id, **kwargs).unwrapped
    n_s, n_a = int(env.observation_space.n), int(env.action_space.n)
    t = np.zeros((n_s, n_a, n_s))
    mass_r = np.zeros((n_s, n_a, n_s))  # sum of p * r, divided by the mass below (P may list one s' twice)
    terminal = np.zeros(n_s, dtype=bool)
    for s in range(n_s):
        for a in range(n_a):
            for p, s2, r, done in env.P[s][a]:
                t[s, a, int(s2)] += p
                mass_r[s, a, int(s2)] += p * r
                terminal[int(s2)] |= bool(done)
    reward = np.divide(mass_r, t, out=np.zeros_like(t), where=t > 0)
    # Gymnasium's P writes goal rows of CliffWalking and Taxi as ordinary moves; the episode ends there.
    _absorb(t, reward, terminal)
    initial = np.asarray(env.initial_state_distrib, dtype=np.float64)
    return TabularMDP(t, reward, initial / initial.sum(), terminal, np.arange(n_s), float(gamma), env_id)


def _absorb(t: np.ndarray, reward: np.ndarray, terminal: np.ndarray) -> None:
    """Make the terminal states absorbing in place: a self-loop with probability 1 and reward 0."""
    t[terminal], reward[terminal] = 0.0, 0.0
    for s in np.flatnonzero(terminal):
        t[s, :, s] = 1.0


# --- MiniGrid ------------------------------------------------------------------------------------


def _minigrid(env_id: str, gamma: float, seed: int, max_states: int, **kwargs: Any) -> TabularMDP:
    try:
        import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
        from minigrid.core.grid import Grid
        from minigrid.core.world_object import WorldObj
    except ImportError as e:
        raise MissingExtraError(f"tabular_mdp(`{env_id}`)", "minigrid", e) from e
    from rewardlab.envs.control.minigrid_tasks import BOX, encode_state

    env = gym.make(env_id, **kwargs).unwrapped
    env.reset(seed=seed)
    base = getattr(env, "base", env)  # rewardlab's Sparse-* tasks wrap the MiniGrid env as `base`
    width, height = base.grid.width, base.grid.height
    if (base.grid.encode()[..., 0] == BOX).any():
        raise NotTabular(f"`{env_id}`: boxes hide their contents from the grid encoding, so states cannot be restored")

    def restore(obs: np.ndarray) -> None:
        grid, _ = Grid.decode(obs[: width * height * 3].reshape(width, height, 3))
        base.grid = grid
        base.agent_pos = (int(obs[-5]), int(obs[-4]))
        base.agent_dir = int(obs[-3])
        base.carrying = WorldObj.decode(int(obs[-2]), int(obs[-1]), 0) if obs[-2] else None
        base.step_count = 0

    def step(a: int) -> tuple[np.ndarray, float, bool]:
        _, r, terminated, _, _ = base.step(a)
        return encode_state(base), float(r > 0), bool(terminated)

    too_many = (f"`{env_id}` (seed {seed}) has more than max_states={max_states} reachable states; "
                "enumerate a smaller level (MiniGrid-Empty-*, DoorKey-5x5, LavaGapS5) or raise max_states")
    states, edges = _search(encode_state(base), restore, step, lambda x: x.tobytes(), int(base.action_space.n),
                            max_states, too_many)
    return _deterministic_mdp(edges, len(states), int(base.action_space.n), np.stack(states), gamma, env_id)


def _search(start: Any, restore: Callable[[Any], None], step: Callable[[int], tuple[Any, float, bool]],
            key: Callable[[Any], bytes], n_actions: int, max_states: int, too_many: str) -> tuple[list, list]:
    """Breadth-first search of a deterministic env from state `start`: its states, and its edges
    ``(s, a, s', reward, terminated)``. ``restore(state)`` sets the env to a state, ``step(a)`` returns
    ``(next state, reward, terminated)``, ``key(state)`` identifies a state; terminal states are not
    expanded. Past `max_states` states it raises :class:`NotTabular` with `too_many`."""
    states, index, edges, queue = [start], {key(start): 0}, [], deque([0])
    while queue:
        s = queue.popleft()
        for a in range(n_actions):
            restore(states[s])
            nxt, r, terminated = step(a)
            k = key(nxt)
            if k not in index:
                if len(index) >= max_states:
                    raise NotTabular(too_many)
                index[k] = len(states)
                states.append(nxt)
                if not terminated:
                    queue.append(index[k])
            edges.append((s, a, index[k], r, terminated))
    return states, edges


def _deterministic_mdp(edges: list, n_s: int, n_a: int, obs: Any, gamma: float, env_id: str) -> TabularMDP:
    """The :class:`TabularMDP` of a search's edges, started in state 0, terminal states made absorbing."""
    t, reward, terminal = np.zeros((n_s, n_a, n_s)), np.zeros((n_s, n_a, n_s)), np.zeros(n_s, dtype=bool)
    for s, a, s2, r, done in edges:
        t[s, a, s2] = 1.0
        reward[s, a, s2] = r
        terminal[s2] |= done
    _absorb(t, reward, terminal)
    initial = np.zeros(n_s)
    initial[0] = 1.0
    return TabularMDP(t, reward, initial, terminal, obs, float(gamma), env_id)


# --- gridhack ------------------------------------------------------------------------------------

#: The core's per-episode state arrays a gridhack state is restored from (row 0 of each); ``stats``
#: (the bottom line, one column per env) is restored separately. The display layers are kept because
#: a step redraws only the cells it changed.
_GRIDHACK_STATE = ("cells", "glyph", "char", "color", "stack", "stack_start", "pending", "msg", "key")


def _gridhack(env_id: str, gamma: float, seed: int, max_states: int, **kwargs: Any) -> TabularMDP:
    from rewardlab.envs.gridhack.tiles import Cmd, Monster

    env = gym.make(env_id, **kwargs).unwrapped
    core = env.core
    if core.task.monster != Monster.NONE or core.n_monsters:
        raise NotTabular(f"`{env_id}` has monsters: their moves and bites roll a hash of the step counter, so it is "
                         "not Markov without the counter and no state repeats with it; use rewardlab.shaping.metrics."
                         "sampled_starc_distance")
    if Cmd.KICK in core.actions:
        raise NotTabular(f"`{env_id}`'s action set has kick, whose luck rolls a hash of the step counter; enumerate a "
                         "task without kicks (or action_set='restricted' where the task has none)")
    env.reset(seed=seed)
    names = [n for n in _GRIDHACK_STATE if getattr(core, n) is not None]
    action = np.zeros(1, dtype=np.int64)

    def snapshot() -> dict[str, Any]:
        core.time[0] = 0  # the turn counter (a view of its stats row) is not part of the state
        state = {n: getattr(core, n)[0].copy() for n in names}
        state["stats"] = core.stats[:, 0].copy()
        return state

    def restore(state: dict[str, Any]) -> None:
        for n in names:
            getattr(core, n)[0] = state[n]  # in place: the compiled step holds these arrays
        core.stats[:, 0] = state["stats"]

    def step(a: int) -> tuple[dict[str, Any], float, bool]:
        action[0] = a
        r, terminated, _ = core.step(action)
        return snapshot(), float(r[0]), bool(terminated[0])

    def key(state: dict[str, Any]) -> bytes:
        return b"".join(state[n].tobytes() for n in ("cells", "stack", "stats", "pending", "msg") if n in state)

    too_many = (f"`{env_id}` (seed {seed}) has more than max_states={max_states} reachable states; "
                "enumerate a smaller level (Corridors-R5, KeyRoom-S10, MultiRoom-N6-Lava) or raise max_states")
    states, edges = _search(snapshot(), restore, step, key, len(core.actions), max_states, too_many)
    observations = []
    for state in states:  # once per state, not per edge: most edges lead to a state already seen
        restore(state)
        observations.append(core.observe(0))
    obs = {k: np.stack([o[k] for o in observations]) for k in observations[0]}
    return _deterministic_mdp(edges, len(states), len(core.actions), obs, gamma, env_id)
