"""The batched gridhack core: the state of B dungeons, their resets and observations, and the step kernel.

One :class:`GridhackCore` holds the state of ``B`` episodes as arrays with leading dimension ``B``
(numpy for the Gymnasium fronts, torch on any device for on-device training). The rules live in
:mod:`~rewardlab.envs.gridhack.rules`, written once; two kernels step them: ``jitcore.step`` (numba, a
loop over envs) on the numpy backend, where at B = 1 the fixed cost of each of a step's array calls
would dominate, and ``torchcore.TorchStep`` (whole-batch tensor operations, no host round trip) on the
torch backend. Randomness inside an episode (kicks, monster moves and bites) comes from a
counter-based integer hash of a per-episode key, so both give identical trajectories; levels are
generated on the host from numpy generators and copied to the device.

The display (glyphs, chars, colours with the agent and monsters drawn in) is kept up to date
incrementally: a step rewrites only the cells it may have changed. Cells are addressed by flat
positions in the padded maps, so each lookup is one 1-D gather.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.envs.backend import resolve_backend
from rewardlab.envs.gridhack import tiles
from rewardlab.envs.gridhack.contexts import LevelSource
from rewardlab.envs.gridhack.rules import HP_MAX, KEY_RANGE, MAP_WINDOW, step_tables
from rewardlab.envs.gridhack.tasks import TaskSpec
from rewardlab.envs.gridhack.tiles import CROP, PAD, Cell, Cmd
from rewardlab.errors import InvalidParameter

__all__ = ["GridhackCore", "OBSERVATION_KEYS", "HP_MAX"]

OBSERVATION_KEYS = ("glyphs", "chars", "colors", "glyphs_crop", "blstats", "message")


def _same(x: Any) -> Any:
    return x


def _np_copy(x: Any) -> Any:
    return x.copy()


def _torch_long(x: Any) -> Any:  # torch indexes with int64 (a uint8 index would be a mask)
    return x.long()


def _torch_copy(x: Any) -> Any:
    return x.clone()


class GridhackCore:
    """State and dynamics of ``num_envs`` gridhack episodes of one task.

    Args:
        task: the :class:`TaskSpec` to play.
        num_envs: B, the number of episodes stepped together.
        backend: ``"numpy"`` or ``"torch"``.
        device: torch device for the torch backend.
        observation_keys: which of :data:`OBSERVATION_KEYS` to build.
        max_episode_steps: truncate episodes at this length (None: never).
        penalty_step: reward added on every step (MiniHack uses -0.01).
        num_contexts, context_seed_offset, structure: see :class:`LevelSource`.
        action_set: ``"restricted"`` (the task's actions) or ``"full"`` (all 15 commands).

    Example:
        >>> import numpy as np
        >>> from rewardlab.envs.gridhack.tasks import TASKS
        >>> core = GridhackCore(TASKS["Corridors-R5"], 4)
        >>> core.reset_rows(np.ones(4, dtype=bool), np.random.default_rng(0))
        >>> obs = core.observe()
        >>> obs["glyphs"].shape, obs["blstats"].shape
        ((4, 21, 79), (4, 8))
        >>> reward, terminated, truncated = core.step(np.array([0, 1, 2, 3]))
        >>> reward.tolist(), core.observe()["blstats"][:, 7].tolist()
        ([0.0, 0.0, 0.0, 0.0], [1, 1, 1, 1])
    """

    def __init__(self, task: TaskSpec, num_envs: int, *, backend: str = "numpy", device: Any = None,
                 observation_keys: tuple[str, ...] = OBSERVATION_KEYS, max_episode_steps: int | None = None,
                 penalty_step: float = 0.0, num_contexts: int | None = None, context_seed_offset: int = 0,
                 structure: str = "all", action_set: str = "restricted"):
        # B sizes every state array; zero or a non-int has no meaning.
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise InvalidParameter(f"`num_envs` must be a positive int. Received {num_envs!r}")
        unknown = [k for k in observation_keys if k not in OBSERVATION_KEYS]
        if unknown or not observation_keys:
            raise InvalidParameter(f"`observation_keys` must be a non-empty subset of {OBSERVATION_KEYS}. "
                                   f"Received {tuple(observation_keys)!r}")
        if max_episode_steps is not None and (not isinstance(max_episode_steps, (int, np.integer)) or max_episode_steps < 1):
            raise InvalidParameter(f"`max_episode_steps` must be a positive int or None. Received {max_episode_steps!r}")
        if not isinstance(penalty_step, (int, float)) or not np.isfinite(penalty_step):
            raise InvalidParameter(f"`penalty_step` must be a finite number. Received {penalty_step!r}")
        if action_set not in ("restricted", "full"):
            raise InvalidParameter(f"`action_set` must be 'restricted' or 'full'. Received {action_set!r}")
        self.backend, self.device = resolve_backend(backend, device)
        self.task, self.num_envs = task, int(num_envs)
        self._bind_namespace()
        self.observation_keys = tuple(observation_keys)
        self.max_episode_steps = max_episode_steps
        self.penalty_step = float(penalty_step)
        self._draw_chars = "chars" in self.observation_keys
        self._draw_colors = "colors" in self.observation_keys
        layers = ("glyph", *(("char",) if self._draw_chars else ()), *(("color",) if self._draw_colors else ()))
        self.source = LevelSource(task, num_contexts, context_seed_offset, structure, layers)
        self.actions = tuple(range(Cmd.COUNT)) if action_set == "full" else task.actions
        self.n_monsters = self.source.n_monsters
        self.tables = step_tables(task.monster, task.depth, task.multilevel, self.actions, self.n_monsters,
                                  max_episode_steps, self._draw_chars, self._draw_colors)

        xp, B, device = self.xp, self.num_envs, self.device
        a = self._a
        i64 = xp.int64
        self._cell_glyph, self._cell_char, self._cell_color = a(tiles.CELL_GLYPH), a(tiles.CELL_CHAR), a(tiles.CELL_COLOR)
        self._msg_table = a(tiles.MESSAGE_TABLE)
        self._b = xp.arange(B, dtype=i64, device=device)

        hp_, wp_ = tiles.H + 2 * PAD, tiles.W
        z = lambda *shape, dtype=i64: xp.zeros(shape, dtype=dtype, device=device)  # noqa: E731
        self.cells = z(B, hp_, wp_, dtype=xp.uint8)
        self.glyph = z(B, hp_, wp_, dtype=xp.int16)
        self.char = z(B, hp_, wp_, dtype=xp.uint8)
        self.color = z(B, hp_, wp_, dtype=xp.uint8)
        L = self.source.depth_levels
        self.stack = z(B, L, hp_, wp_, dtype=xp.uint8) if task.multilevel else None
        self.stack_start = z(B, L, 2)
        # blstats rows in blstats order (x, y padded), so one transpose builds the observation; the
        # named attributes are views that the step updates in place
        self.stats = z(tiles.BLSTATS_LEN, B)
        self._bl_offset = a(np.array([0, PAD, 0, 0, 0, 0, 0, 0], dtype=np.int64))
        self._bl_reset = a(np.array([[HP_MAX], [1], [0], [0], [0], [0]], dtype=np.int64))  # hp .. time at reset
        # pending: the direction prompt (0 none, 1 apply, 2 zap, 3 kick) times the number of actions, so
        # that k = pending + action
        self.pending, self.msg, self.key = z(B), z(B), z(B)
        self.my, self.mx = z(B, self.n_monsters), z(B, self.n_monsters)
        self.malive = z(B, self.n_monsters, dtype=xp.bool)
        self.success = z(B, dtype=xp.bool)
        self.context_id = np.zeros(B, dtype=np.int64)  # host-side, for info
        self._map_keys = [(key, name) for key, name in (("glyphs", "glyph"), ("chars", "char"), ("colors", "color"))
                          if key in self.observation_keys]
        self._n_act = len(self.actions)
        self._wp = wp_
        off = np.arange(CROP) - CROP // 2
        crop = (off[:, None] * wp_ + off[None, :]).reshape(-1)  # flat offsets of the egocentric crop
        self._crop_flat, self._crop_dx = a(crop[None, :].copy()), a(off[None, :].copy())
        self._stone_glyph = int(tiles.CELL_GLYPH[Cell.STONE])
        self._row_base = self._b * (hp_ * wp_)  # flat offset of each sub-env's map
        # drawn layers: (name, cell -> value table, agent value, monster value)
        (ag, ac, acol), (mg, mc, mcol) = self.tables.actors.tolist()
        self._layer_spec = [("glyph", self._cell_glyph, ag, mg)]
        if self._draw_chars:
            self._layer_spec.append(("char", self._cell_char, ac, mc))
        if self._draw_colors:
            self._layer_spec.append(("color", self._cell_color, acol, mcol))
        # resets of fresh compiled levels write the state in place (numpy only)
        self._writes_fresh = self.source.writes_fresh and self.xp is np
        self._bind_views()

    def _bind_namespace(self) -> None:
        """Set the array namespace and its two helpers (re-done after unpickling: modules do not pickle)."""
        if self.backend == "numpy":
            self.xp, self._long, self._copy = np, _same, _np_copy
        else:
            import array_api_compat
            import torch

            self.xp, self._long, self._copy = array_api_compat.array_namespace(torch.empty(0)), _torch_long, _torch_copy

    def _bind_views(self) -> None:
        (self.ax, self.ay, self.hp, self.depth, self.has_key, self.item, self.lev,
         self.time) = (self.stats[i] for i in range(tiles.BLSTATS_LEN))
        # flat views of the maps: a 1-D gather at flat positions costs a fraction of a (b, y, x) gather
        self._cells_f = self.cells.reshape(-1)
        self._layers_f = [(getattr(self, name).reshape(-1), *rest) for name, *rest in self._layer_spec]
        # views of sub-env 0 for the single-env observation (B = 1)
        self._map0 = {name: getattr(self, name)[(0, *MAP_WINDOW)] for _, name in self._map_keys}
        self._stats0 = self.stats[:, 0]
        self._start_episodes = self._jit_step = self._crops = self._torch_step = None
        if self.xp is np:  # the compiled kernels: the step and the start of episodes
            from rewardlab.envs.gridhack import jitcore
            from rewardlab.envs.gridhack.compile_notice import refresh_if_stale

            refresh_if_stale(jitcore)  # a silent half-minute compile on a cold cache looks like a hang
            self._start_episodes, self._jit_step, self._crops = jitcore.start_episodes, jitcore.step, jitcore.crops
            t = self.tables
            self._jit_args = (*t.packed()[:1], self.penalty_step, *t.packed()[1:], t.dirs, t.salts, t.actors,
                              self.stats, self.pending, self.msg, self.key, self.my, self.mx,
                              self.malive, self.cells, self.glyph, self.char, self.color,
                              np.zeros((1, 1, 1, 1), dtype=np.uint8) if self.stack is None else self.stack,
                              self.stack_start)
        else:
            from rewardlab.envs.gridhack.torchcore import TorchStep

            self._torch_step = TorchStep(self.tables, self.device, self.n_monsters, self.penalty_step,
                                         lava=self.source.has_lava)

    _UNPICKLED = ("xp", "_long", "_copy", "ax", "ay", "hp", "depth", "has_key", "item", "lev",
                  "time", "_cells_f", "_layers_f", "_map0", "_stats0", "_jit_step", "_jit_args",
                  "_start_episodes", "_crops", "_torch_step")

    def __getstate__(self) -> dict[str, Any]:
        # modules do not pickle, and views of `stats` would come back as copies
        return {k: v for k, v in self.__dict__.items() if k not in self._UNPICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_namespace()
        self._bind_views()

    def _a(self, x: np.ndarray) -> Any:
        return self.xp.asarray(x, device=self.device) if self.xp is not np else x

    # --- reset ----------------------------------------------------------------------------------
    def reset_rows(self, mask: np.ndarray, rng: np.random.Generator) -> None:
        """Start new episodes in the sub-envs where `mask` (host bool array (B,)) is True."""
        rows = np.flatnonzero(mask)
        if rows.size:
            self._load(rows, rng)

    def _load(self, rows_np: np.ndarray, rng: np.random.Generator) -> None:
        n = rows_np.size
        if self.source.n_ids == KEY_RANGE:
            # fresh levels draw ids from the keys' range; numpy draws ints below 2**32 from 32-bit halves and keeps
            # an unused half in the generator, so one draw of 2n is the two draws of n (ids, then keys) at half the cost
            ids_keys = self.source.sample(rng, 2 * n)
            ids, keys = ids_keys[:n], ids_keys[n:]
        else:
            ids = self.source.sample(rng, n)
            keys = rng.integers(0, KEY_RANGE, size=n, dtype=np.int64)
        self.context_id[rows_np] = ids
        rows = slice(None) if n == self.num_envs else self._a(rows_np)  # a slice writes faster than a gather
        if not self._all_loaded:
            self._clear_rows(rows, rows_np)
        if self._writes_fresh:  # compiled generation straight into the rows' maps and layers
            start, mons = self.source.fresh_into(ids, rows_np, self.cells, self.glyph, self.char, self.color,
                                                 self._draw_chars, self._draw_colors)
        else:
            lv, (ys, xs) = self.source.for_reset(ids)
            cells, start, mons = lv.cells, lv.start, lv.monsters
            self.cells[rows, ys, xs] = self._a(cells[:, 0])
            for name, *_ in self._layer_spec:
                getattr(self, name)[rows, ys, xs] = self._a(getattr(lv, name))
            if self.stack is not None:
                self.stack[rows, :, ys, xs] = self._a(cells)
        if self._start_episodes is not None:  # the writes below in one compiled call
            self._start_episodes(rows_np, start, mons, keys, self.stack_start, self.stats, self._bl_reset[:, 0],
                                 self.pending, self.msg, self.success, self.key, self.my, self.mx, self.malive,
                                 self.glyph, self.char, self.color, self._draw_chars, self._draw_colors,
                                 self.tables.actors[0], self.tables.actors[1])
            return
        self.stack_start[rows] = self._a(start)
        self.stats[0, rows], self.stats[1, rows] = self._a(start[:, 0, 1]), self._a(start[:, 0, 0])  # (y, x) -> rows x, y
        self.stats[2:, rows] = self._bl_reset
        self.pending[rows] = 0
        self.msg[rows] = 0
        self.success[rows] = False
        self.key[rows] = self._a(keys)
        if self.n_monsters:
            m = self._a(mons)
            self.my[rows], self.mx[rows] = m[..., 0], m[..., 1]
            self.malive[rows] = True
        self._draw_actors(rows)

    # Resets of fresh levels write only the (21, 79) interiors of the maps: once a row is loaded nothing draws
    # on its stone rows (agents and monsters stay inside the walls, rays rewrite stone as stone). A step
    # before a row's first load may (its agent stands at (0, 0)), so until every row has been loaded once,
    # loads clear whole rows first.
    _all_loaded = False
    _loaded: np.ndarray | None = None  # host (B,) bool: rows loaded at least once

    def _clear_rows(self, rows: Any, rows_np: np.ndarray) -> None:
        """Whole rows to stone and stone's display, and mark them loaded."""
        self.cells[rows] = int(Cell.STONE)
        if self.stack is not None:
            self.stack[rows] = int(Cell.STONE)
        for name, table, *_ in self._layer_spec:
            getattr(self, name)[rows] = int(table[Cell.STONE])
        if self._loaded is None:
            self._loaded = np.zeros(self.num_envs, dtype=bool)
        self._loaded[rows_np] = True
        self._all_loaded = bool(self._loaded.all())

    def _redraw_rows(self, rows: Any) -> None:
        """Redraw the whole display of some sub-envs (after a reset or a descent)."""
        c = self._long(self.cells[rows])
        for name, table, *_ in self._layer_spec:
            getattr(self, name)[rows] = table[c]
        self._draw_actors(rows)

    def _agent_pos(self) -> Any:
        """Flat positions of the agents (B,)."""
        return self._row_base + self.ay * self._wp + self.ax

    def _flat(self, rows: Any, y: Any, x: Any) -> Any:
        """Flat positions in the maps of cells (y, x) of sub-envs `rows` (y, x: (n,) or (n, k))."""
        base = self._row_base[rows]
        return (base if y.ndim == 1 else base[:, None]) + y * self._wp + x


    def _draw_actors(self, rows: Any) -> None:
        """Draw the live monsters, then the agent, over sub-envs `rows`."""
        if self.n_monsters:
            live = self._flat(rows, self.my[rows], self.mx[rows])[self.malive[rows]]
            for layer, _, _, value in self._layers_f:
                layer[live] = value
        apos = self._flat(rows, self.ay[rows], self.ax[rows])
        for layer, _, value, _ in self._layers_f:
            layer[apos] = value

    # --- observation ----------------------------------------------------------------------------
    def observe(self, row: int | None = None) -> dict[str, Any]:
        """Fresh copies of the observation arrays (never views of the state); of sub-env `row` alone
        (no leading dimension) if given."""
        keys, copy, obs = self.observation_keys, self._copy, {}
        one = row is not None and self.num_envs == 1  # the single-env front: copies of views bound once
        lead = slice(None) if row is None else row
        if row is None and self.xp is np:
            # the map layers of all envs as views of one new buffer: one large allocation per step instead of
            # three keeps glibc from returning freed observations to the OS and faulting them back in every step
            layers = [getattr(self, name)[(lead, *MAP_WINDOW)] for _, name in self._map_keys]
            buf = np.empty(sum(x.nbytes for x in layers), dtype=np.uint8)
            at = 0
            for (key, _), x in zip(self._map_keys, layers):
                out = obs[key] = buf[at : at + x.nbytes].view(x.dtype).reshape(x.shape)
                np.copyto(out, x)
                at += x.nbytes
        else:
            for key, name in self._map_keys:
                obs[key] = copy(self._map0[name] if one else getattr(self, name)[(lead, *MAP_WINDOW)])
        if "glyphs_crop" in keys:
            if self._crops is not None:
                out = np.empty((self.num_envs, CROP, CROP), dtype=np.int16)
                crop = self._crops(self.glyph, self.stats, self._stone_glyph, out)
            else:  # a gather at flat offsets, where the columns beyond the map's sides are stone
                idx = self._agent_pos()[:, None] + self._crop_flat
                crop = self.glyph.reshape(-1)[idx.reshape(-1)].reshape(self.num_envs, CROP, CROP)
                x = self.ax[:, None] + self._crop_dx
                crop = self.xp.where(((x >= 0) & (x < tiles.W))[:, None, :], crop, self._stone_glyph)
            obs["glyphs_crop"] = crop if row is None else crop[row]
        if "blstats" in keys:
            stats = self._stats0 if one else self.stats.T if row is None else self.stats[:, row]
            obs["blstats"] = stats - self._bl_offset
        if "message" in keys:
            obs["message"] = self._msg_table[self.msg] if row is None else copy(self._msg_table[self.msg[row]])
        return obs

    # --- step -----------------------------------------------------------------------------------

    # --- step -----------------------------------------------------------------------------------
    def step(self, actions: Any) -> tuple[Any, Any, Any]:
        """Advance all B sub-envs by one action index each; returns (reward, terminated, truncated), and
        leaves ``success`` (B,) set. Read observations with :meth:`observe`. `actions`: an integer numpy
        array (numpy backend) or an int64 tensor on the core's device (torch backend), (B,).

        Sub-envs whose episode ended keep stepping on stale state until a front resets them.
        """
        if self._torch_step is not None:
            return self._torch_step(self, actions)
        reward, done = np.empty(self.num_envs), np.empty((3, self.num_envs), dtype=bool)
        self._jit_step(np.asarray(actions, dtype=np.int64), reward, done, *self._jit_args)
        terminated, truncated, self.success = done
        return reward, terminated, truncated
