"""The gridhack task table: one :class:`TaskSpec` per registered ``rewardlab/Gridhack-<Task>-v0`` id.

A task is a level generator with its arguments, an action set, a monster kind and an episode limit.
Navigation tasks use the 8 compass moves (plus kick where doors are locked); skill tasks use
MiniHack's "-Restricted" set: 8 moves, pickup, apply, quaff, wear, zap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rewardlab.envs.gridhack import levels
from rewardlab.envs.gridhack.tiles import Cell, Cmd, Item, Monster

__all__ = ["TaskSpec", "TASKS", "MOVES", "SKILL_ACTIONS"]

MOVES = tuple(range(8))
SKILL_ACTIONS = (*MOVES, Cmd.PICKUP, Cmd.APPLY, Cmd.QUAFF, Cmd.WEAR, Cmd.ZAP)


@dataclass(frozen=True)
class TaskSpec:
    """How to build one task: `generate(layout_rng, object_rng) -> Level` and its rules.

    Example:
        >>> spec = TASKS["KeyRoom-S10"]
        >>> spec.kind, len(spec.actions), spec.max_episode_steps
        ('key', 10, 400)
    """

    name: str
    generate: Callable[..., levels.Level]
    actions: tuple[int, ...] = MOVES
    monster: int = Monster.NONE
    n_monsters: int = 0
    max_episode_steps: int = 1000
    depth: int = 1  # number of dungeon levels to descend to (Staircase tasks)
    num_contexts: int | None = None  # default of the `num_contexts` argument
    kind: str = "nav"  # what the oracle must do: nav, kick, key, item, wod, stairs
    doc: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def multilevel(self) -> bool:
        return self.depth > 1


def _t(name: str, gen: Callable[..., levels.Level], doc: str, **kw: Any) -> TaskSpec:
    return TaskSpec(name=name, generate=gen, doc=doc, **kw)


_ANY_ITEM = (Item.POTION, Item.BOOTS, Item.HORN, Item.WAND_COLD)
_LOCKED = (*MOVES, Cmd.KICK)

TASKS: dict[str, TaskSpec] = {t.name: t for t in [
    _t("MultiRoom-N4-Locked", partial(levels.multiroom, n_rooms=4, max_size=8, door=Cell.DOOR_LOCKED),
       "4 rooms in a chain joined by locked doors; kick them open.", actions=_LOCKED, kind="kick", max_episode_steps=400),
    _t("MultiRoom-N6-Lava", partial(levels.multiroom, n_rooms=6, lava_walls=True),
       "6 rooms with lava walls joined by closed doors (bump to open).", max_episode_steps=600),
    _t("MultiRoom-N6-Lava-OpenDoor", partial(levels.multiroom, n_rooms=6, lava_walls=True, door=Cell.DOOR_OPEN),
       "6 rooms with lava walls joined by open doors.", max_episode_steps=600),
    _t("MultiRoom-N6-LavaMonsters", partial(levels.multiroom, n_rooms=6, lava_walls=True, n_monsters=3),
       "6 rooms with lava walls and 3 wandering jackals.", monster=Monster.JACKAL, n_monsters=3,
       max_episode_steps=600),
    _t("MultiRoom-N10-OpenDoor", partial(levels.multiroom, n_rooms=10, max_size=8, door=Cell.DOOR_OPEN),
       "10 rooms in a chain joined by open doors.", max_episode_steps=1000),
    _t("MultiRoom-N10-Lava-OpenDoor",
       partial(levels.multiroom, n_rooms=10, max_size=8, lava_walls=True, door=Cell.DOOR_OPEN),
       "10 rooms with lava walls joined by open doors.", max_episode_steps=1000),
    _t("LavaCrossing-S19N13", partial(levels.crossing, size=19, n_rivers=13),
       "MiniGrid's 19x19 lava crossing with 13 rivers.", max_episode_steps=400),
    _t("LavaCrossing-S19N17", partial(levels.crossing, size=19, n_rivers=17),
       "MiniGrid's 19x19 lava crossing with 17 rivers (all 16 candidate rivers).", max_episode_steps=400),
    _t("Labyrinth-Big", levels.labyrinth, "A big fixed maze (one context by default).", num_contexts=1,
       max_episode_steps=1000),
    _t("Levitate-Potion", partial(levels.river, items=(Item.POTION,)),
       "Pick up and quaff a potion of levitation to float over a lava river.", actions=SKILL_ACTIONS, kind="item",
       max_episode_steps=300),
    _t("Levitate-Boots", partial(levels.river, items=(Item.BOOTS,)),
       "Pick up and wear levitation boots to float over a lava river.", actions=SKILL_ACTIONS, kind="item",
       max_episode_steps=300),
    _t("Freeze-Horn", partial(levels.river, items=(Item.HORN,)),
       "Pick up a frost horn and apply it across a lava river to freeze a bridge.", actions=SKILL_ACTIONS, kind="item",
       max_episode_steps=300),
    _t("Freeze-Wand", partial(levels.river, items=(Item.WAND_COLD,)),
       "Pick up a wand of cold and zap it across a lava river to freeze a bridge.", actions=SKILL_ACTIONS, kind="item",
       max_episode_steps=300),
    _t("Freeze-Random", partial(levels.river, items=(Item.HORN, Item.WAND_COLD)),
       "Freeze a lava river with a frost horn or a wand of cold, whichever lies there.", actions=SKILL_ACTIONS, kind="item",
       max_episode_steps=300),
    _t("LavaCross", partial(levels.river, items=_ANY_ITEM),
       "Cross a lava river with whichever of potion, boots, horn or wand lies there.", actions=SKILL_ACTIONS, kind="item",
       max_episode_steps=300),
    _t("WoD-Hard", levels.wod, "Pick up a wand of death and zap the minotaur blocking the corridor.",
       actions=SKILL_ACTIONS, kind="wod", monster=Monster.MINOTAUR, n_monsters=1, max_episode_steps=300),
    _t("Corridors-R5", partial(levels.corridors, n_rooms=5),
       "5 rooms joined by corridors with dead ends; find the stairs down.", max_episode_steps=500),
    _t("KeyRoom-S10", partial(levels.keyroom, size=10),
       "Pick up the key and apply it to the locked door of the inner room holding the stairs.",
       actions=(*MOVES, Cmd.PICKUP, Cmd.APPLY), kind="key", max_episode_steps=400),
    *[_t(f"Staircase-Lvl{d}", partial(levels.staircase, depth=d),
         f"Descend to dungeon level {d}: find the stairs down and press `>` on each level.",
         actions=(*MOVES, Cmd.DOWN), depth=d, kind="stairs", max_episode_steps=500 * (d - 1)) for d in (2, 3, 4)],
]}
