"""Env descriptors of the control tasks: what LLM-written reward code sees of each observation.

Functions: :func:`control_descriptor` (the descriptor of one ``Sparse-``/``Dense-`` id),
:func:`descriptor_factory` (a zero-argument factory for :func:`~rewardlab.shaping.llm.views.register_descriptor`).

Field indices follow each task's observation layout (module docstrings of
:mod:`~rewardlab.envs.control.classic`, :mod:`~rewardlab.envs.control.mujoco`,
:mod:`~rewardlab.envs.control.antmaze`, :mod:`~rewardlab.envs.control.minigrid_tasks`, and
gymnasium's MuJoCo v5 ``_get_obs``); ``tests/envs/test_descriptors.py`` checks them against the
envs' own quantities (Reacher's success distance, MuJoCo ``qpos``/``qvel``, MiniGrid's agent).

Info keys: only ``is_success``. The control envs also report ``sparse_reward`` (equal to
``is_success`` as a float) and ``dense_reward``, the reference dense reward: handing that to the
function would let it copy the reference instead of designing a reward, so it is left out.

Example:
    >>> desc = control_descriptor("rewardlab/Sparse-MountainCar-v0")
    >>> [(f.name, f.index, f.low, f.high) for f in desc.fields]
    [('position', 0, -1.2, 0.6), ('velocity', 1, -0.07, 0.07)]
    >>> desc.action_kind, desc.info_keys
    ('discrete', ('is_success',))
"""

from __future__ import annotations

from collections.abc import Callable

from rewardlab.envs.control.minigrid_tasks import SparseDoorKey8x8, SparseKeyCorridorS3R3, SparseMultiRoomN4S5
from rewardlab.errors import ConfigError, did_you_mean
from rewardlab.shaping.llm.views import EnvDescriptor, Field

__all__ = ["control_descriptor", "descriptor_factory", "TASK_NAMES"]

_INFO = (("is_success", "1.0 on a step whose successor state meets the task's success criterion, else 0.0"),)


def _ix(start: int, stop: int) -> tuple[int, ...]:
    return tuple(range(start, stop))


# --- MountainCar ---------------------------------------------------------------------------------
def _mountain_car(env_id: str, continuous: bool) -> EnvDescriptor:
    goal = 0.45 if continuous else 0.5
    fields = (
        Field("position", "x, the car's position along the track (the valley floor is near -0.52)", unit="m",
              low=-1.2, high=0.6, index=0),
        Field("velocity", "v, the car's velocity (positive = to the right, towards the flag)", unit="m/step",
              low=-0.07, high=0.07, index=1),
    )
    if continuous:
        action = "a read-only float ndarray of shape (1,): the push force in [-1, 1] (positive pushes right)"
        control = "-0.1 * float(action[0] ** 2)"
    else:
        action = "a python int: 0 push left, 1 no push, 2 push right"
        control = "0.0"
    example = f'''def compute_reward(obs, action, next_obs, info):
    # Progress towards the flag at x = {goal}, a little speed to build momentum, the task's success.
    progress = 10.0 * (next_obs.position - obs.position)
    speed = 1.0 * abs(next_obs.velocity)
    effort = {control}
    success = 1.0 * info["is_success"]
    total = progress + speed + effort + success
    return total, {{"progress": progress, "speed": speed, "effort": effort, "success": success}}
'''
    return EnvDescriptor(
        env_id=env_id,
        summary=(
            "An under-powered car in a valley must rock back and forth to build momentum and reach the flag "
            f"on the right hill at x = {goal}. The car cannot climb the hill by pushing right from rest."
        ),
        fields=fields,
        action=action,
        action_kind="box" if continuous else "discrete",
        info=_INFO,
        success=f"position >= {goal} after the step (the car reaches the flag); the episode then ends",
        example=example,
    )


# --- MuJoCo ----------------------------------------------------------------------------------------
_REACHER_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # Distance from the fingertip to the target after the step, a small control cost, the task's success.
    distance = math.hypot(next_obs.tip_to_target_x, next_obs.tip_to_target_y)
    reach = -distance
    control = -0.1 * float(np.sum(np.square(action)))
    success = 1.0 * info["is_success"]
    return reach + control + success, {"reach": reach, "control": control, "success": success}
'''


def _reacher(env_id: str) -> EnvDescriptor:
    fields = (
        Field("cos_joint0", "cosine of the shoulder joint angle", low=-1.0, high=1.0, index=0),
        Field("cos_joint1", "cosine of the elbow joint angle", low=-1.0, high=1.0, index=1),
        Field("sin_joint0", "sine of the shoulder joint angle", low=-1.0, high=1.0, index=2),
        Field("sin_joint1", "sine of the elbow joint angle", low=-1.0, high=1.0, index=3),
        Field("target_x", "x of the target (fixed during an episode, within 0.2 of the origin)", unit="m",
              low=-0.2, high=0.2, index=4),
        Field("target_y", "y of the target", unit="m", low=-0.2, high=0.2, index=5),
        Field("joint0_velocity", "angular velocity of the shoulder joint", unit="rad/s", index=6),
        Field("joint1_velocity", "angular velocity of the elbow joint", unit="rad/s", index=7),
        Field("tip_to_target_x", "x of (fingertip - target); the success distance is hypot of the two components",
              unit="m", low=-0.41, high=0.41, index=8),
        Field("tip_to_target_y", "y of (fingertip - target)", unit="m", low=-0.41, high=0.41, index=9),
    )
    return EnvDescriptor(
        env_id=env_id,
        summary=(
            "A two-joint planar arm (links 0.1 and 0.11 m) must bring its fingertip to a random target. "
            "Episodes last 50 steps and never end early."
        ),
        fields=fields,
        action="a read-only float ndarray of shape (2,): shoulder and elbow torques, each in [-1, 1]",
        action_kind="box",
        info=_INFO,
        success="hypot(tip_to_target_x, tip_to_target_y) < 0.02 after the step (counted on every such step)",
        example=_REACHER_EXAMPLE,
    )


_PUSHER_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # Bring the arm tip to the object, the object to the goal, small control cost, the task's success.
    tip_to_object = float(np.linalg.norm(next_obs.tip_pos - next_obs.object_pos))
    object_to_goal = float(np.linalg.norm(next_obs.object_pos - next_obs.goal_pos))
    approach = -0.5 * tip_to_object
    push = -1.0 * object_to_goal
    control = -0.1 * float(np.sum(np.square(action)))
    success = 1.0 * info["is_success"]
    total = approach + push + control + success
    return total, {"approach": approach, "push": push, "control": control, "success": success}
'''


def _pusher(env_id: str) -> EnvDescriptor:
    joints = "shoulder pan, shoulder lift, upper-arm roll, elbow flex, forearm roll, wrist flex, wrist roll"
    fields = (
        Field("joint_angles", f"the 7 joint angles, shape (7,), in the order {joints}", unit="rad", index=_ix(0, 7),
              kind="array"),
        Field("joint_velocities", "the 7 joint angular velocities, shape (7,), same order", unit="rad/s",
              index=_ix(7, 14), kind="array"),
        Field("tip_pos", "xyz position of the arm's tip, shape (3,)", unit="m", index=_ix(14, 17), kind="array"),
        Field("object_pos", "xyz position of the object (a cylinder), shape (3,)", unit="m", index=_ix(17, 20),
              kind="array"),
        Field("goal_pos", "xyz position of the goal, shape (3,), fixed at (0.45, -0.05, -0.323)", unit="m",
              index=_ix(20, 23), kind="array"),
    )
    return EnvDescriptor(
        env_id=env_id,
        summary=(
            "A 7-joint arm must push a cylinder on a table to a fixed goal position. "
            "Episodes last 100 steps and never end early."
        ),
        fields=fields,
        action="a read-only float ndarray of shape (7,): joint torques, each in [-2, 2]",
        action_kind="box",
        info=_INFO,
        success=(
            "norm(object_pos - goal_pos) < 0.05 after the step (3-D distance; the object's centre sits 0.048 "
            "above the goal's, so the xy distance must be below about 0.014)"
        ),
        example=_PUSHER_EXAMPLE,
    )


# (task, joint names in observation order, velocity clip, success text, summary)
_LOCOMOTION: dict[str, tuple[tuple[str, ...], float | None, str, str]] = {
    "HalfCheetah": (
        ("back thigh", "back shin", "back foot", "front thigh", "front shin", "front foot"),
        None,
        "x > 5 after the step (absolute torso x; it starts within 0.1 of 0), counted on every such step",
        "A planar two-legged cheetah must run forward (+x). Episodes last 1000 steps and never end early.",
    ),
    "Hopper": (
        ("thigh", "leg", "foot"),
        10.0,
        "x - x0 > 1 after the step, x0 being the torso x at reset (within 0.005 of 0), counted on every such step",
        "A planar one-legged hopper must hop forward (+x) without falling. "
        "The episode ends when it falls (unhealthy) or after 1000 steps.",
    ),
    "Walker2d": (
        ("right thigh", "right leg", "right foot", "left thigh", "left leg", "left foot"),
        10.0,
        "x - x0 > 1 after the step, x0 being the torso x at reset (within 0.005 of 0), counted on every such step",
        "A planar two-legged walker must walk forward (+x) without falling. "
        "The episode ends when it falls (unhealthy) or after 1000 steps.",
    ),
}

_LOCOMOTION_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # Forward velocity, a bonus for staying upright, a small control cost, the task's success.
    forward = 1.0 * next_obs.x_velocity
    upright = 0.1 * math.cos(next_obs.torso_angle)
    control = -0.01 * float(np.sum(np.square(action)))
    success = 1.0 * info["is_success"]
    total = forward + upright + control + success
    return total, {"forward": forward, "upright": upright, "control": control, "success": success}
'''


def _locomotion(env_id: str, task: str) -> EnvDescriptor:
    joints, clip, success, summary = _LOCOMOTION[task]
    k = len(joints)
    names = ", ".join(joints)
    vlow, vhigh = (-clip, clip) if clip is not None else (None, None)
    vnote = f" (clipped to [-{clip:g}, {clip:g}])" if clip is not None else ""
    # qpos = x, z, torso angle, k joint angles; then qvel in the same order (v5 with x included).
    fields = (
        Field("x", "x of the torso (forward is +x)", unit="m", index=0),
        Field("z", "height of the torso", unit="m", index=1),
        Field("torso_angle", "pitch angle of the torso (0 = upright)", unit="rad", index=2),
        Field("joint_angles", f"the {k} joint angles, shape ({k},), in the order {names}", unit="rad",
              index=_ix(3, 3 + k), kind="array"),
        Field("x_velocity", "forward velocity of the torso" + vnote, unit="m/s", low=vlow, high=vhigh, index=3 + k),
        Field("z_velocity", "vertical velocity of the torso" + vnote, unit="m/s", low=vlow, high=vhigh, index=4 + k),
        Field("torso_angular_velocity", "angular velocity of the torso pitch" + vnote, unit="rad/s", low=vlow,
              high=vhigh, index=5 + k),
        Field("joint_velocities", f"the {k} joint angular velocities, shape ({k},), same order" + vnote,
              unit="rad/s", low=vlow, high=vhigh, index=_ix(6 + k, 6 + 2 * k), kind="array"),
    )
    return EnvDescriptor(
        env_id=env_id,
        summary=summary,
        fields=fields,
        action=f"a read-only float ndarray of shape ({k},): joint torques in [-1, 1], in the order {names}",
        action_kind="box",
        info=_INFO,
        success=success,
        example=_LOCOMOTION_EXAMPLE,
    )


_ANTMAZE_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # Getting closer to the goal (straight-line, through walls), staying upright, the task's success.
    before = math.hypot(obs.goal_x - obs.ant_x, obs.goal_y - obs.ant_y)
    after = math.hypot(next_obs.goal_x - next_obs.ant_x, next_obs.goal_y - next_obs.ant_y)
    progress = 10.0 * (before - after)
    upright = 0.05 * min(next_obs.torso_z, 1.0)
    success = 10.0 * info["is_success"]
    return progress + upright + success, {"progress": progress, "upright": upright, "success": success}
'''


def _antmaze(env_id: str) -> EnvDescriptor:
    fields = (
        Field("ant_x", "x of the ant's torso", unit="m", key="achieved_goal", index=0),
        Field("ant_y", "y of the ant's torso", unit="m", key="achieved_goal", index=1),
        Field("goal_x", "x of the goal (fixed during an episode)", unit="m", key="desired_goal", index=0),
        Field("goal_y", "y of the goal", unit="m", key="desired_goal", index=1),
        Field("torso_z", "height of the torso", unit="m", key="observation", index=0),
        Field("x_velocity", "x velocity of the torso", unit="m/s", key="observation", index=13),
        Field("y_velocity", "y velocity of the torso", unit="m/s", key="observation", index=14),
        Field("proprio", "the ant's body state, shape (105,): torso z, orientation quaternion (4), 8 joint angles, "
              "torso velocities (6), 8 joint velocities, then contact forces", key="observation", kind="array"),
    )
    return EnvDescriptor(
        env_id=env_id,
        summary=(
            "An 8-joint quadruped ant must walk around the walls of a U-shaped maze to a goal at the other end. "
            "The episode ends at the goal or after 700 steps; the straight line to the goal crosses a wall."
        ),
        fields=fields,
        action="a read-only float ndarray of shape (8,): hip and ankle torques, each in [-1, 1]",
        action_kind="box",
        info=_INFO,
        success="hypot(goal_x - ant_x, goal_y - ant_y) <= 0.45 after the step; the episode then ends",
        example=_ANTMAZE_EXAMPLE,
        obs_keys=("achieved_goal", "desired_goal", "observation"),
    )


# --- MiniGrid ------------------------------------------------------------------------------------
_MINIGRID_EXAMPLE = '''def compute_reward(obs, action, next_obs, info):
    # Picking something up (the key or the target), a small cost per step, the task's success.
    picked = 0.2 * float(next_obs.carried_type != 0 and obs.carried_type == 0)
    step_cost = -0.001
    success = 1.0 * info["is_success"]
    return picked + step_cost + success, {"picked": picked, "step_cost": step_cost, "success": success}
'''

_MINIGRID = {
    "DoorKey-8x8": (SparseDoorKey8x8, "pick up the key, unlock the door (toggle while facing it holding the key), "
                    "then step onto the green goal square", "stepping onto the goal square (type 8)"),
    "KeyCorridor-S3R3": (SparseKeyCorridorS3R3, "find the key in one room, unlock the locked room, then pick up the "
                         "ball inside it", "picking up the ball (type 6): carried_type becomes 6"),
    "MultiRoom-N4-S5": (SparseMultiRoomN4S5, "open the doors (toggle while facing them) of a chain of 4 rooms and "
                        "step onto the goal square in the last room", "stepping onto the goal square (type 8)"),
}


def _minigrid(env_id: str, task: str) -> EnvDescriptor:
    cls, goal, success = _MINIGRID[task]
    w, h = cls.width, cls.height
    n = w * h * 3
    codes = ("object types: 1 empty, 2 wall, 3 floor, 4 door, 5 key, 6 ball, 7 box, 8 goal, 9 lava; "
             "door states: 0 open, 1 closed, 2 locked; colours: 0 red, 1 green, 2 blue, 3 purple, 4 yellow, 5 grey")
    fields = (
        Field("grid", f"the full grid, int array of shape ({w}, {h}, 3) indexed [x, y, channel], channels = object "
              f"type, colour, state ({codes}); the agent is not drawn in it", low=0, high=10, index=_ix(0, n),
              kind="array", shape=(w, h, 3)),
        Field("agent_x", "the agent's column", low=0, high=w - 1, index=n, kind="int"),
        Field("agent_y", "the agent's row (y grows downwards)", low=0, high=h - 1, index=n + 1, kind="int"),
        Field("agent_dir", "the direction the agent faces: 0 right, 1 down, 2 left, 3 up", low=0, high=3,
              index=n + 2, kind="int"),
        Field("carried_type", "object type the agent carries (0 when empty-handed; 5 key, 6 ball)", low=0, high=10,
              index=n + 3, kind="int"),
        Field("carried_color", "colour of the carried object (0 when empty-handed)", low=0, high=5, index=n + 4,
              kind="int"),
    )
    return EnvDescriptor(
        env_id=env_id,
        summary=(f"A fully observed {w}x{h} MiniGrid world: the agent must {goal}. "
                 f"The episode ends on success or after {cls.default_horizon} steps."),
        fields=fields,
        action="a python int: 0 turn left, 1 turn right, 2 forward, 3 pick up, 4 drop, 5 toggle (open/unlock), 6 done",
        action_kind="discrete",
        info=_INFO,
        success=success + "; the episode then ends",
        example=_MINIGRID_EXAMPLE,
    )


_BUILDERS: dict[str, Callable[[str], EnvDescriptor]] = {
    "MountainCar": lambda eid: _mountain_car(eid, continuous=False),
    "MountainCarContinuous": lambda eid: _mountain_car(eid, continuous=True),
    "Reacher": _reacher,
    "Pusher": _pusher,
    "HalfCheetah": lambda eid: _locomotion(eid, "HalfCheetah"),
    "Hopper": lambda eid: _locomotion(eid, "Hopper"),
    "Walker2d": lambda eid: _locomotion(eid, "Walker2d"),
    "AntMaze-UMaze": _antmaze,
    **{task: (lambda t: lambda eid: _minigrid(eid, t))(task) for task in _MINIGRID},
}

#: The control task names with a descriptor (every task of :data:`rewardlab.envs.control.TASKS`).
TASK_NAMES = tuple(_BUILDERS)


def control_descriptor(env_id: str) -> EnvDescriptor:
    """The descriptor of ``rewardlab/Sparse-<Task>-v0`` or ``rewardlab/Dense-<Task>-v0``.

    Raises:
        ConfigError: not a control task id.
    """
    for kind in ("Sparse", "Dense"):
        prefix = f"rewardlab/{kind}-"
        if env_id.startswith(prefix) and env_id.endswith("-v0") and env_id[len(prefix):-3] in _BUILDERS:
            return _BUILDERS[env_id[len(prefix):-3]](env_id)
    ids = [f"rewardlab/{k}-{t}-v0" for t in _BUILDERS for k in ("Sparse", "Dense")]
    raise ConfigError(f"`{env_id}` is not a control task id.{did_you_mean(env_id, ids)}")


def descriptor_factory(env_id: str) -> Callable[[], EnvDescriptor]:
    """A zero-argument factory building :func:`control_descriptor` of ``env_id`` on first use."""
    return lambda: control_descriptor(env_id)
