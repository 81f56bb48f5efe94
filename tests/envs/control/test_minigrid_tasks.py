"""MiniGrid sparse tasks: success on hand-built states, the flat observation, the BFS subgoal potential,
and the dense reward (MiniGrid's native reward plus subgoal progress)."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pytest

import rewardlab  # noqa: F401
from rewardlab.envs.control import minigrid_tasks as mt

pytest.importorskip("minigrid", reason="the MiniGrid tasks need the `minigrid` extra")
from minigrid.core.constants import DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX  # noqa: E402
from minigrid.core.world_object import Key  # noqa: E402

FORWARD, PICKUP = 2, 3


def test_codes_match_minigrid():
    for name in ["empty", "wall", "floor", "door", "key", "ball", "box", "goal", "lava"]:
        assert getattr(mt, name.upper()) == OBJECT_TO_IDX[name]
    assert (mt.OPEN, mt.CLOSED, mt.LOCKED) == (STATE_TO_IDX["open"], STATE_TO_IDX["closed"], STATE_TO_IDX["locked"])


def _facing(u, cell, pos) -> None:
    """Stand the agent on `pos` facing the adjacent `cell`."""
    u.agent_pos = tuple(pos)
    u.agent_dir = next(d for d, v in enumerate(DIR_TO_VEC) if tuple(np.add(pos, v)) == tuple(cell))


@pytest.mark.parametrize(("task", "size"), [("DoorKey-8x8", 8), ("MultiRoom-N4-S5", 25)])
@pytest.mark.parametrize("inside", [True, False])
def test_goal_reached_is_success(task, size, inside):
    # One cell from the goal facing it, `forward` reaches it (success); two cells away it does not.
    env = gym.make(f"rewardlab/Sparse-{task}-v0")
    env.reset(seed=1)
    u = env.unwrapped.base
    goal = next((x, y) for x in range(size) for y in range(size) if u.grid.get(x, y) is not None and u.grid.get(x, y).type == "goal")
    for v in DIR_TO_VEC:  # an open neighbour with an open cell behind it
        near, far = tuple(np.subtract(goal, v)), tuple(np.subtract(goal, 2 * v))
        if u.grid.get(*near) is None and u.grid.get(*far) is None:
            break
    _facing(u, goal, near) if inside else _facing(u, near, far)
    obs, reward, terminated, _, info = env.step(FORWARD)
    assert (info["is_success"], reward, terminated) == (inside, float(inside), inside)
    assert tuple(int(c) for c in obs[-5:-3]) == (goal if inside else near)  # the agent moved one cell


@pytest.mark.parametrize("inside", [True, False])
def test_keycorridor_picking_up_the_ball_is_success(inside):
    # Open the locked door, stand in the doorway; facing the ball, `pickup` succeeds; facing away it does nothing.
    env = gym.make("rewardlab/Sparse-KeyCorridor-S3R3-v0")
    env.reset(seed=1)
    u = env.unwrapped.base
    ball = u.obj.cur_pos
    door = next(
        tuple(np.add(ball, v)) for v in DIR_TO_VEC if u.grid.get(*np.add(ball, v)) is not None and u.grid.get(*np.add(ball, v)).type == "door"
    )
    u.grid.get(*door).is_locked, u.grid.get(*door).is_open = False, True
    _facing(u, ball, door)
    if not inside:
        u.agent_dir = (u.agent_dir + 2) % 4
    _, reward, terminated, _, info = env.step(PICKUP)
    assert (info["is_success"], reward, terminated) == (inside, float(inside), inside)


def _bfs_reference(grid: np.ndarray, start, targets, passable_types=(1, 3, 8, 4)) -> int:
    """Plain queue BFS (the hand computation): moves from `start` until a target cell is stepped on."""
    seen, queue = {tuple(start)}, deque([(tuple(start), 0)])
    while queue:
        (x, y), d = queue.popleft()
        if (x, y) in targets:
            return d
        for dx, dy in DIR_TO_VEC:
            n = (x + dx, y + dy)
            t, s = grid[n][0], grid[n][2]
            if n not in seen and (n in targets or (t in passable_types and not (t == 4 and s == 2))):
                seen.add(n)
                queue.append((n, d + 1))
    raise AssertionError("unreachable")


def test_doorkey_potential_follows_key_door_goal():
    env = gym.make("rewardlab/Dense-DoorKey-8x8-v0")
    obs, _ = env.reset(seed=4)
    u = env.unwrapped.base
    phi = env.unwrapped._phi
    grid, L = u.grid.encode(), 64

    def cells(kind, state=None):
        return {(x, y) for x in range(8) for y in range(8) if grid[x, y, 0] == OBJECT_TO_IDX[kind] and (state is None or grid[x, y, 2] == state)}

    # Stage 0: 2 stages left, BFS to the key.
    d_key = _bfs_reference(grid, u.agent_pos, cells("key"))
    assert phi(obs[None])[0] == pytest.approx(-(2 * L + d_key) / (3 * L))
    # Stage 1: holding the key, BFS to the locked door; Phi went up by at least (L - d) / 3L > 0.
    key_pos = next(iter(cells("key")))
    u.carrying = u.grid.get(*key_pos)
    u.grid.set(*key_pos, None)
    obs1 = mt.encode_state(u)
    d_door = _bfs_reference(u.grid.encode(), u.agent_pos, cells("door", 2))
    assert phi(obs1[None])[0] == pytest.approx(-(L + d_door) / (3 * L))
    assert phi(obs1[None])[0] > phi(obs[None])[0]
    # Stage 2: door open, BFS to the goal.
    door = u.grid.get(*next(iter(cells("door"))))
    door.is_locked, door.is_open = False, True
    obs2 = mt.encode_state(u)
    d_goal = _bfs_reference(u.grid.encode(), u.agent_pos, cells("goal"))
    assert phi(obs2[None])[0] == pytest.approx(-d_goal / (3 * L))
    # Batched: the three states at once give the same three values.
    np.testing.assert_allclose(phi(np.stack([obs, obs1, obs2])), [phi(o[None])[0] for o in (obs, obs1, obs2)])


def test_observation_layout():
    env = gym.make("rewardlab/Sparse-DoorKey-8x8-v0")
    obs, _ = env.reset(seed=0)
    u = env.unwrapped.base
    grid, xy, direction, carried = mt.decode_obs(obs[None], 8, 8)
    np.testing.assert_array_equal(grid[0], u.grid.encode())
    assert tuple(xy[0]) == tuple(u.agent_pos) and direction[0] == u.agent_dir and carried[0] == 0
    u.carrying = Key("yellow")
    assert tuple(mt.encode_state(u)[-2:]) == (OBJECT_TO_IDX["key"], 4)  # yellow = 4


@pytest.mark.parametrize(("task", "base_id"), [("DoorKey-8x8", "MiniGrid-DoorKey-8x8-v0"), ("KeyCorridor-S3R3", "MiniGrid-KeyCorridorS3R3-v0"), ("MultiRoom-N4-S5", "MiniGrid-MultiRoom-N4-S5-v1")])
def test_dense_reward_is_native_reward_plus_progress(task, base_id):
    ours = gym.make(f"rewardlab/Dense-{task}-v0")
    horizon = ours.unwrapped.horizon
    base = gym.make(base_id, max_steps=horizon)
    phi = ours.unwrapped._phi
    obs, _ = ours.reset(seed=3)
    base.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        a = int(rng.integers(7))
        next_obs, reward, terminated, truncated, info = ours.step(a)
        _, base_reward, base_term, base_trunc, _ = base.step(a)
        np.testing.assert_array_equal(next_obs, mt.encode_state(base.unwrapped))
        progress = phi(next_obs[None])[0] - phi(obs[None])[0]
        assert reward == info["dense_reward"] == pytest.approx(float(base_reward) + progress, abs=1e-12)
        assert (terminated, truncated) == (base_term, base_trunc)
        obs = next_obs
        if terminated or truncated:
            break


def test_multiroom_has_four_rooms():
    # minigrid 3.2's legacy MultiRoom-N4-S5-v0 builds 6 rooms; rewardlab's id builds 4 (v1 kwargs).
    env = gym.make("rewardlab/Sparse-MultiRoom-N4-S5-v0")
    env.reset(seed=0)
    assert len(env.unwrapped.base.rooms) == 4
