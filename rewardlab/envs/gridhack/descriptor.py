"""Env descriptors of the gridhack tasks: what LLM-written reward code sees of each observation.

Function: :func:`gridhack_descriptor` (the descriptor of one task, with the registered default
``observation_keys``, i.e. all of :data:`~rewardlab.envs.gridhack.core.OBSERVATION_KEYS`).

The fields read the NLE-style Dict observation: the agent's position and status from ``blstats``
(layout :data:`~rewardlab.envs.gridhack.tiles.BL_X` ...), the 9x9 glyph crop around the agent, the
full glyph and char maps, and the message text. Gridhack has no inventory key: what the agent
holds is ``blstats``' ``has_key`` and ``item``, exposed as such. The glyph ids in the docs are read
from :mod:`~rewardlab.envs.gridhack.tiles`, so they cannot drift from the env.

Info keys: ``is_success`` (the env also reports ``context_id``, the level's index in the context
pool, which says nothing about the task and is left out).

Example:
    >>> desc = gridhack_descriptor("KeyRoom-S10")
    >>> [(f.name, f.key, f.index) for f in desc.fields[:2]]
    [('row', 'blstats', 1), ('col', 'blstats', 0)]
    >>> desc.action.split(";")[0]
    'a python int: 0 north (k), 1 east (l), 2 south (j), 3 west (h), 4 northeast (u), 5 southeast (n), 6 southwest (b), 7 northwest (y), 8 pickup, 9 apply'
"""

from __future__ import annotations

from rewardlab.envs.gridhack import tiles
from rewardlab.envs.gridhack.core import OBSERVATION_KEYS
from rewardlab.envs.gridhack.rules import HP_MAX
from rewardlab.envs.gridhack.tasks import TASKS
from rewardlab.envs.gridhack.tiles import Cell, Cmd, Item
from rewardlab.errors import ConfigError, did_you_mean
from rewardlab.shaping.llm.views import EnvDescriptor, Field

__all__ = ["gridhack_descriptor", "descriptor_factory"]

_INFO = (("is_success", "1.0 on the step that completes the task, else 0.0"),)
_KEYS = ("k", "l", "j", "h", "u", "n", "b", "y")  # NetHack's move keys, in Cmd order


def _glyph_table() -> str:
    names = {v: k.lower() for k, v in vars(Cell).items() if k.isupper() and k != "COUNT"}
    parts = [f"{names[c]} {int(tiles.CELL_GLYPH[c])}" for c in range(Cell.COUNT)]
    parts.append(f"agent {tiles.AGENT_GLYPH}")
    parts += [f"{name} {tiles.MONSTER_GLYPH[m][0]}" for name, m in (("jackal", 1), ("minotaur", 2))]
    return ", ".join(parts)


def _action_text(actions: tuple[int, ...]) -> str:
    words = [f"{i} {Cmd.NAMES[c]}" + (f" ({_KEYS[c]})" if c < 8 else "") for i, c in enumerate(actions)]
    text = "a python int: " + ", ".join(words)
    if any(c in (Cmd.APPLY, Cmd.ZAP, Cmd.KICK) for c in actions):
        text += "; apply, zap and kick ask 'In what direction?' and the next move answers"
    return text


def _success_text(name: str) -> str:
    spec = TASKS[name]
    if spec.kind == "stairs":
        return f"descending to dungeon level {spec.depth}: press `down` on the stairs down (`>`) of each level"
    return "stepping onto the stairs down (`>`, cell stairs_down); the episode then ends"


_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # Moving (not bumping into walls), picking things up, losing hit points, the task's success.
    moved = 0.01 * float(next_obs.row != obs.row or next_obs.col != obs.col)
    picked = 0.2 * float(" - a " in next_obs.message)
    hurt = -0.1 * float(next_obs.hp < obs.hp)
    success = 1.0 * info["is_success"]
    total = moved + picked + hurt + success
    return total, {"moved": moved, "picked": picked, "hurt": hurt, "success": success}
'''


def gridhack_descriptor(task: str, env_id: str | None = None) -> EnvDescriptor:
    """The descriptor of gridhack task ``task`` (e.g. ``"KeyRoom-S10"``), for its registered id.

    Raises:
        ConfigError: an unknown task name.
    """
    if task not in TASKS:
        raise ConfigError(f"`task` must be a gridhack task, got {task!r}.{did_you_mean(str(task), TASKS)}")
    spec = TASKS[task]
    env_id = env_id or f"rewardlab/Gridhack-{task}-v0"
    items = ", ".join(f"{v} {k.lower()}" for k, v in vars(Item).items() if k.isupper())
    h, w, crop = tiles.H, tiles.W, tiles.CROP
    glyph_high = tiles.MAX_GLYPH - 1
    fields = (
        Field("row", "the agent's row on the map (blstats y)", low=0, high=h - 1, key="blstats", index=tiles.BL_Y,
              kind="int"),
        Field("col", "the agent's column on the map (blstats x)", low=0, high=w - 1, key="blstats", index=tiles.BL_X,
              kind="int"),
        Field("hp", "the agent's hit points (0 = dead)", low=0, high=HP_MAX, key="blstats", index=tiles.BL_HP,
              kind="int"),
        Field("depth", "the dungeon level the agent is on (1 = first)", low=1, high=spec.depth, key="blstats",
              index=tiles.BL_DEPTH, kind="int"),
        Field("has_key", "1 when the agent carries a key, else 0", low=0, high=1, key="blstats",
              index=tiles.BL_HAS_KEY, kind="int"),
        Field("item", f"the item the agent carries besides a key: {items}", low=0, high=5, key="blstats",
              index=tiles.BL_ITEM, kind="int"),
        Field("levitating", "1 while the agent levitates (it can float over lava), else 0", low=0, high=1,
              key="blstats", index=tiles.BL_LEVITATING, kind="int"),
        Field("time", "steps taken in this episode", unit="steps", low=0, key="blstats", index=tiles.BL_TIME,
              kind="int"),
        Field("glyphs_crop", f"int array ({crop}, {crop}) of glyph ids around the agent (the agent at [4, 4]; "
              "stone beyond the map)", low=0, high=glyph_high, key="glyphs_crop", kind="array"),
        Field("glyphs", f"int array ({h}, {w}) of glyph ids of the whole map, indexed [row, col]; glyph ids: "
              f"{_glyph_table()}", low=0, high=glyph_high, key="glyphs", kind="array"),
        Field("chars", f"uint8 array ({h}, {w}) of the map's ASCII codes as NetHack draws it (ord('@') is the agent, "
              "ord('>') stairs down, ord('}') lava)", low=0, high=127, key="chars", kind="array"),
        Field("message", "the game's message of this step as text ('' when none), e.g. 'f - a key.', "
              "'The door opens.', 'You fall into the lava! You die...'", key="message", kind="text"),
    )
    return EnvDescriptor(
        env_id=env_id,
        summary=(f"A NetHack-like dungeon on a {h}x{w} map, fully visible: {spec.doc} "
                 f"The episode ends on success, on death (lava, or hp 0) or after {spec.max_episode_steps} steps."),
        fields=fields,
        action=_action_text(spec.actions),
        action_kind="discrete",
        info=_INFO,
        success=_success_text(task),
        example=_EXAMPLE,
        obs_keys=OBSERVATION_KEYS,
    )


def descriptor_factory(task: str, env_id: str):
    """A zero-argument factory building :func:`gridhack_descriptor` of ``task`` on first use."""
    return lambda: gridhack_descriptor(task, env_id)
