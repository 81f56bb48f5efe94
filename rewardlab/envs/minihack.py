"""Adapter for the real MiniHack/NLE (the optional ``nethack`` extra), with the fixes of environments.md §2.5.

Real MiniHack is for calibration runs beside the native ``rewardlab/Gridhack-*`` family; nothing else
in rewardlab needs it. :func:`make_minihack` builds a MiniHack/NLE env with:

* ``SeedLevels``: ``reset(seed=s)`` really fixes the level (stock ``reset(seed=...)`` only seeds
  gymnasium's ``np_random``; NetHack's own generators need ``unwrapped.seed(core, disp, False)``);
* ``CopyObservations``: NLE's observation arrays are views of its internal buffers, so anything that
  stores them (replay, episodic memories) would see them change; this copies them;
* ``MiniHack-KeyRoom-S10-v0`` (used by Henaff et al. §3, absent from minihack 1.0.2);
* ``NetHackStaircaseLvl{2,3,4}-v0`` (the ONI/Motif descent tasks): NetHackScore with
  ``DescendTo(depth)``, which ends the episode with reward 50 on reaching that dungeon level;
* a clear error, naming the native twin, for the ids that crash or cannot be seeded with
  minigrid 3.x (LavaCrossing*, and seeded MultiRoom*).

Classes: :class:`CopyObservations`, :class:`SeedLevels`, :class:`DescendTo`; functions
:func:`make_minihack`, :func:`require_nethack`.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np

from rewardlab.errors import InvalidParameter, MissingExtraError

__all__ = ["CopyObservations", "SeedLevels", "DescendTo", "make_minihack", "require_nethack", "NATIVE_TWIN"]

# MiniHack ids and their native gridhack twins
NATIVE_TWIN = {
    "MiniHack-MultiRoom-N4-Locked-v0": "rewardlab/Gridhack-MultiRoom-N4-Locked-v0",
    "MiniHack-MultiRoom-N6-Lava-v0": "rewardlab/Gridhack-MultiRoom-N6-Lava-v0",
    "MiniHack-MultiRoom-N6-Lava-OpenDoor-v0": "rewardlab/Gridhack-MultiRoom-N6-Lava-OpenDoor-v0",
    "MiniHack-MultiRoom-N6-LavaMonsters-v0": "rewardlab/Gridhack-MultiRoom-N6-LavaMonsters-v0",
    "MiniHack-MultiRoom-N10-OpenDoor-v0": "rewardlab/Gridhack-MultiRoom-N10-OpenDoor-v0",
    "MiniHack-MultiRoom-N10-Lava-OpenDoor-v0": "rewardlab/Gridhack-MultiRoom-N10-Lava-OpenDoor-v0",
    "MiniHack-LavaCrossingS19N13-v0": "rewardlab/Gridhack-LavaCrossing-S19N13-v0",
    "MiniHack-LavaCrossingS19N17-v0": "rewardlab/Gridhack-LavaCrossing-S19N17-v0",
    "MiniHack-Labyrinth-Big-v0": "rewardlab/Gridhack-Labyrinth-Big-v0",
    "MiniHack-Levitate-Potion-Restricted-v0": "rewardlab/Gridhack-Levitate-Potion-v0",
    "MiniHack-Levitate-Boots-Restricted-v0": "rewardlab/Gridhack-Levitate-Boots-v0",
    "MiniHack-Freeze-Horn-Restricted-v0": "rewardlab/Gridhack-Freeze-Horn-v0",
    "MiniHack-Freeze-Wand-Restricted-v0": "rewardlab/Gridhack-Freeze-Wand-v0",
    "MiniHack-Freeze-Random-Restricted-v0": "rewardlab/Gridhack-Freeze-Random-v0",
    "MiniHack-LavaCross-Restricted-v0": "rewardlab/Gridhack-LavaCross-v0",
    "MiniHack-WoD-Hard-Restricted-v0": "rewardlab/Gridhack-WoD-Hard-v0",
    "MiniHack-Corridor-R5-v0": "rewardlab/Gridhack-Corridors-R5-v0",
    "MiniHack-KeyRoom-S10-v0": "rewardlab/Gridhack-KeyRoom-S10-v0",
    "NetHackStaircaseLvl2-v0": "rewardlab/Gridhack-Staircase-Lvl2-v0",
    "NetHackStaircaseLvl3-v0": "rewardlab/Gridhack-Staircase-Lvl3-v0",
    "NetHackStaircaseLvl4-v0": "rewardlab/Gridhack-Staircase-Lvl4-v0",
}
# minigrid 3.x: CrossingEnv gets width/height and grid_size together (AssertionError at make)
_CRASHING_PREFIXES = ("MiniHack-LavaCrossing", "MiniHack-SimpleCrossing")
# MiniGridHack.seed calls the removed minigrid_env.seed(): these can be made but not seeded
_UNSEEDABLE_PREFIXES = ("MiniHack-MultiRoom", *_CRASHING_PREFIXES)
NLE_BLSTATS_DEPTH = 12  # NLE's blstats index of the dungeon depth


def require_nethack() -> tuple[Any, Any]:
    """Import and return ``(minihack, nle)``, or raise :class:`MissingExtraError` naming the ``nethack`` extra."""
    try:
        import minihack
        import nle
    except ModuleNotFoundError as e:
        hint = " (minihack imports pkg_resources: install setuptools<81)" if e.name == "pkg_resources" else ""
        raise MissingExtraError(f"Real MiniHack/NLE environments{hint}", "nethack", e) from e
    return minihack, nle


class CopyObservations(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Return deep copies of observations, so stored ones never change under the caller.

    Example:
        >>> import gymnasium as gym, rewardlab
        >>> env = CopyObservations(gym.make("rewardlab/Gridhack-KeyRoom-S10-v0"))
        >>> obs, _ = env.reset(seed=0)
        >>> sorted(obs)[:2]
        ['blstats', 'chars']
    """

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)

    def observation(self, observation: Any) -> Any:
        if isinstance(observation, dict):
            return {k: np.array(v, copy=True) for k, v in observation.items()}
        return copy.deepcopy(observation)


class SeedLevels(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Make ``reset(seed=s)`` fix NetHack's level: seeds its core and display generators with `s`.

    Without it, ``reset(seed=1)`` twice gives two different maps (environments.md §2.5, pitfall 3).
    """

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            try:
                self.env.unwrapped.seed(int(seed), int(seed) + 1, False)
            except AttributeError as e:  # MiniGridHack.seed calls minigrid's removed seed() (pitfall 4)
                raise InvalidParameter(
                    f"`seed`: this MiniGrid-based MiniHack env cannot be seeded with minigrid 3.x ({e}). "
                    "Use its native twin in rewardlab.envs.minihack.NATIVE_TWIN, which is seedable.") from e
        return self.env.reset(seed=seed, options=options)


class DescendTo(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """End the episode with `reward` once ``blstats[depth_index]`` reaches `depth` (the ONI/Motif
    ``Staircase-Lvl<k>`` tasks); ``info["is_success"]`` reports it.

    Example:
        >>> import gymnasium as gym, numpy as np, rewardlab
        >>> env = DescendTo(gym.make("rewardlab/Gridhack-Corridors-R5-v0"), depth=1, depth_index=3)
        >>> _ = env.reset(seed=0)
        >>> env.step(0)[1:3]  # already on dungeon level 1
        (50.0, True)
    """

    def __init__(self, env: gym.Env, depth: int, reward: float = 50.0, depth_index: int = NLE_BLSTATS_DEPTH):
        # A depth below 1 is reached before the first step; the task would be meaningless.
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
            raise InvalidParameter(f"`depth` must be a positive int. Received {depth!r}")
        gym.utils.RecordConstructorArgs.__init__(self, depth=depth, reward=reward, depth_index=depth_index)
        gym.Wrapper.__init__(self, env)
        self.depth, self.reward, self.depth_index = int(depth), float(reward), int(depth_index)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = self.env.step(action)
        success = int(obs["blstats"][self.depth_index]) >= self.depth
        info["is_success"] = success
        return obs, self.reward if success else 0.0, terminated or success, truncated, info


def make_minihack(env_id: str, *, seed_levels: bool = True, copy_obs: bool = True, **kwargs: Any) -> gym.Env:
    """Make a real MiniHack/NLE env with rewardlab's fixes (see the module docstring).

    Args:
        env_id: a MiniHack or NLE id, ``"MiniHack-KeyRoom-S10-v0"`` or ``"NetHackStaircaseLvl{2,3,4}-v0"``.
        seed_levels: wrap in :class:`SeedLevels` (refused for the unseedable MiniGrid-based ids).
        copy_obs: wrap in :class:`CopyObservations`.
        **kwargs: passed to ``gym.make`` (or to ``MiniHackKeyRoom`` for KeyRoom-S10).

    Raises:
        MissingExtraError: minihack/nle are not installed.
        InvalidParameter: an id that crashes with minigrid 3.x, or seeding asked of an unseedable one.
    """
    if env_id.startswith(_CRASHING_PREFIXES):
        raise InvalidParameter(
            f"`env_id` {env_id!r} crashes at make with minigrid 3.x (CrossingEnv gets width/height and grid_size). "
            f"Use the native twin {NATIVE_TWIN.get(env_id, 'rewardlab/Gridhack-LavaCrossing-S19N13-v0')!r}.")
    if seed_levels and env_id.startswith(_UNSEEDABLE_PREFIXES):
        raise InvalidParameter(
            f"`env_id` {env_id!r} cannot be seeded with minigrid 3.x; pass seed_levels=False for unseeded levels, "
            f"or use the native twin {NATIVE_TWIN.get(env_id)!r}.")
    require_nethack()
    if env_id == "MiniHack-KeyRoom-S10-v0":
        from minihack.envs.keyroom import MiniHackKeyRoom

        kwargs.setdefault("max_episode_steps", 400)  # as KeyRoom-S15
        env: gym.Env = MiniHackKeyRoom(room_size=10, subroom_size=3, lit=True, **kwargs)
    elif env_id.startswith("NetHackStaircaseLvl"):
        depth = int(env_id.removeprefix("NetHackStaircaseLvl").split("-")[0])
        # NetHackStaircase itself ends on the first descent; NetHackScore does not (ONI's base task)
        env = DescendTo(gym.make("NetHackScore-v0", **kwargs), depth)
    else:
        env = gym.make(env_id, **kwargs)
    if seed_levels:
        env = SeedLevels(env)
    if copy_obs:
        env = CopyObservations(env)
    return env
