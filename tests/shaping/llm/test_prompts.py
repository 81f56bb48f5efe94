"""Tests of rewardlab.shaping.llm.prompts: the first prompt, Eureka reflection, rejections, ICPL preference.

Golden strings below are written by hand from the descriptor/statistics they render (not copied
from the output); checkpoint selection follows Eureka's ``epoch_freq = max(T // 10, 1)`` and
``values[::epoch_freq]`` (eureka.py, spec llm_and_bilevel.md §B1 step 5).
"""

from __future__ import annotations

import pytest

from rewardlab.errors import InvalidParameter, RewardCodeRejected
from rewardlab.shaping.llm.prompts import (
    RULES,
    SIGNATURE,
    checkpoint_indices,
    render_preference,
    render_prompt,
    render_reflection,
    render_rejection,
)
from rewardlab.shaping.llm.views import EnvDescriptor, Field

EXAMPLE = 'def compute_reward(obs, action, next_obs, info):\n    return 1.0 * info["is_success"]\n'


def _desc() -> EnvDescriptor:
    return EnvDescriptor(
        env_id="test/Line-v0",
        summary="A point moves on a line. It must reach x = 1.",
        fields=(
            Field("x", "position of the point", unit="m", low=-1.0, high=1.0, index=0),
            Field("v", "velocity", unit="m/s", index=1),
            Field("cell", "grid cell", low=0, high=9, index=2, kind="int"),
            Field("crop", "local map", index=(3, 4, 5, 6), kind="array", shape=(2, 2)),
            Field("message", "last message", key=None, index=(7, 8), kind="text"),
        ),
        action="a python int: 0 left, 1 right",
        action_kind="discrete",
        info=(("is_success", "1.0 at the goal"),),
        success="x >= 1 after the step",
        example=EXAMPLE,
    )


GOLDEN_USER = """Environment: test/Line-v0
A point moves on a line. It must reach x = 1.

`obs` is the state before the action and `next_obs` the state after it; both are read-only views with these fields (`np.asarray(obs)` is the raw observation):
- obs.x (float, m, in [-1, 1]): position of the point
- obs.v (float, m/s): velocity
- obs.cell (int, in [0, 9]): grid cell
- obs.crop (array (2, 2)): local map
- obs.message (str): last message

`action`: a python int: 0 left, 1 right.

`info` is a read-only dict of floats with exactly these keys:
- info["is_success"]: 1.0 at the goal

Success criterion of the task: x >= 1 after the step.

A valid reward function for this environment (a starting point, not a good solution):
```python
def compute_reward(obs, action, next_obs, info):
    return 1.0 * info["is_success"]
```

Task: Reach the right end quickly.
Write a reward function for this task."""


def test_render_prompt_user_message_is_the_golden_text():
    system, user = render_prompt(_desc(), "  Reach the right end quickly.\n")
    assert (system["role"], user["role"]) == ("system", "user")
    assert user["content"] == GOLDEN_USER


def test_system_message_states_signature_rules_and_eureka_tips():
    system = render_prompt(_desc(), "Reach x = 1.")[0]["content"]
    assert SIGNATURE == "def compute_reward(obs, action, next_obs, info):"
    assert f"```python\n{SIGNATURE}\n" in system
    for i, rule in enumerate(RULES, 1):
        assert f"\n{i}. {rule}\n" in system
    # The gates' rules, as the brief lists them: numpy/math only, no while, no I/O, no dunder, return type.
    for phrase in ("`np` (numpy) and `math`", "No `while`", "No I/O", "No dunder", "(total, {name: float, ...})"):
        assert phrase in system
    # Eureka's tips: components in a dict, scaling, a named temperature per exp transform.
    for phrase in ("dictionary of each individual reward component", "Scale each component",
                   "temperature parameter", "distance_temperature"):
        assert phrase in system
    assert system.endswith("Answer with the complete function in one ```python code block.")


def test_render_prompt_without_info_or_example():
    desc = EnvDescriptor("t", "S.", (Field("x", "d", index=0),), "an int", "discrete", (), "none", "")
    user = render_prompt(desc, "T.")[1]["content"]
    assert "`info` is an empty read-only dict." in user and "```python" not in user


def test_render_prompt_rejects_an_empty_task():
    with pytest.raises(InvalidParameter, match="`task`"):
        render_prompt(_desc(), "   ")


def test_render_prompt_is_deterministic():
    # Same inputs -> byte-identical messages (the request cache keys on them).
    assert render_prompt(_desc(), "Reach x = 1.") == render_prompt(_desc(), "Reach x = 1.")


# --- reflection ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "count, expected",
    [
        (1, [0]),
        (9, list(range(9))),  # 9 // 10 = 0 -> freq 1: every value
        (10, list(range(10))),
        (25, list(range(0, 25, 2))),  # 25 // 10 = 2 -> 13 values, as Eureka's [::2]
        (100, list(range(0, 100, 10))),
        (109, list(range(0, 109, 10))),  # 11 values: Eureka keeps the remainder too
    ],
)
def test_checkpoint_indices_follow_eureka(count, expected):
    assert checkpoint_indices(count) == expected


def test_reflection_golden_text_on_small_stats():
    stats = {
        "progress": [(100, 0.5, 0.25, 0.0), (200, 1.5, 0.75, 0.25), (300, 2.0, 1.25, 0.5)],
        "task_success": [(100, 0.0, 0.0, 0.0), (200, 1.0, 0.5, 0.0), (300, 1.0, 0.75, 0.0)],
    }
    text = render_reflection(0.8, stats, "success")
    head = text.split("\n\nPlease carefully analyze")[0]
    # Hand computation: T = 3 -> freq 1, all three means; Max = max of maxes, Mean = mean of means
    # ((0.25 + 0.75 + 1.25) / 3 = 0.75, (0 + 0.5 + 0.75) / 3 = 0.4166 -> 0.42), Min = min of mins.
    assert head == (
        "We trained a RL policy using the provided reward function code and tracked the values of the individual "
        "components in the reward function as well as global policy metrics such as success rates and episode "
        "lengths at 3 points of training (env steps [100, 200, 300]: every 1-th logged value, each a mean per "
        "episode) and the maximum, mean, minimum values encountered:\n"
        "progress: [0.25, 0.75, 1.25], Max: 2.00, Mean: 0.75, Min: 0.00\n"
        "task_success: [0.00, 0.50, 0.75], Max: 1.00, Mean: 0.42, Min: 0.00\n"
        "task_score (success rate at the final evaluation): 0.80"
    )
    assert "What these numbers show" not in text  # success > 0, one varying component: no hint applies


def test_reflection_selects_every_second_of_25_checkpoints():
    stats = {"energy": [(10 * (i + 1), i + 0.5, float(i), i - 0.5) for i in range(25)]}
    line = render_reflection(1.0, stats, "task_return").splitlines()[1]
    # freq = 25 // 10 = 2: means 0, 2, ..., 24; Max 24.5, Mean 12 (mean of 0..24), Min -0.5.
    means = ", ".join(f"{float(i):.2f}" for i in range(0, 25, 2))
    assert line == f"energy: [{means}], Max: 24.50, Mean: 12.00, Min: -0.50"
    assert "env steps [10, 30, 50, 70, 90, 110, 130, 150, 170, 190, 210, 230, 250]" in render_reflection(1.0, stats, "task_return")


def test_reflection_flags_zero_success_constant_and_dominating_components():
    stats = {
        "huge": [(i, 60.0 + i, 50.0 + i, 40.0 + i) for i in range(4)],  # mean |.| 51.5
        "flat": [(i, 0.2, 0.2, 0.2) for i in range(4)],  # identical means: near constant
        "small": [(i, 1.0, 0.5 * i, 0.0) for i in range(4)],  # mean |.| 0.75
        "task_success": [(i, 0.0, 0.0, 0.0) for i in range(4)],
        "episode_length": [(i, 200.0, 200.0, 200.0) for i in range(4)],  # a metric: never flagged as constant
        "env_reward": [(i, 0.0, 0.0, 0.0) for i in range(4)],  # the env's own reward: listed, never flagged
    }
    text = render_reflection(0.0, stats, "success")
    notes = text.split("What these numbers show:\n")[1].split("\n\n")[0].splitlines()
    # huge / small = 51.5 / 0.75 = 68.7 >= 10: dominating.
    assert notes == [
        "- The success rate is near zero throughout: rewrite the entire reward function (tip 1).",
        "- `flat` is near identical throughout (mean 0.20): rescale, rewrite or discard it (tip 2).",
        "- `huge` is 68.7 times larger in magnitude than `small`, the next largest component: re-scale it (tip 3).",
    ]
    # Eureka's three generic tips follow in every reflection.
    assert "(1) If the success rates are always near zero, then you must rewrite the entire reward function" in text
    assert "(c) Discarding the reward component" in text
    # Metric series are listed after the components.
    order = [line.split(":")[0] for line in text.splitlines()[1:7]]
    assert order == ["huge", "flat", "small", "env_reward", "task_success", "episode_length"]


def test_reflection_is_deterministic_and_validates_rows():
    stats = {"a": [(1, 1.0, 0.5, 0.0)]}
    assert render_reflection(0.5, stats, "success") == render_reflection(0.5, stats, "success")
    with pytest.raises(InvalidParameter, match="empty"):
        render_reflection(0.5, {}, "success")
    with pytest.raises(InvalidParameter, match=r"\(step, max, mean, min\)"):
        render_reflection(0.5, {"a": [(1, 1.0, 0.5)]}, "success")


# --- rejection and preference -----------------------------------------------------------------------
def test_render_rejection_names_gate_rule_line_and_hint():
    err = RewardCodeRejected("dry_run", "nonfinite", "the reward was NaN for 3 of 256 transitions", line=4,
                             hint="guard divisions and logs")
    assert render_rejection(err) == (
        "Rejected [dry_run:nonfinite] at line 4: the reward was NaN for 3 of 256 transitions\n"
        "Hint: guard divisions and logs\n"
        "Please fix this and answer with the complete corrected compute_reward function in one ```python code block."
    )
    no_line = render_rejection(RewardCodeRejected("static", "signature", "wrong arguments"))
    assert no_line.splitlines()[0] == "Rejected [static:signature]: wrong arguments"
    assert "Hint:" not in no_line
    with pytest.raises(InvalidParameter, match="RewardCodeRejected"):
        render_rejection(ValueError("boom"))


def test_render_preference_shows_best_then_worst():
    text = render_preference("def compute_reward(obs, action, next_obs, info):\n    return 1.0\n", "success 0.9",
                             "def compute_reward(obs, action, next_obs, info):\n    return 0.0", "success 0.1")
    best_at, worst_at = text.index("The best reward function:"), text.index("The worst reward function:")
    assert best_at < text.index("    return 1.0") < text.index("success 0.9") < worst_at
    assert worst_at < text.index("    return 0.0") < text.index("success 0.1")
    assert "```python\ndef compute_reward(obs, action, next_obs, info):\n    return 1.0\n```" in text
    assert text.endswith("Answer with the complete function in one ```python code block.")


def test_rejection_makes_the_scripted_server_answer_a_fixed_version(tmp_path):
    """End to end over loopback: prompt -> scripted `import` candidate -> gate rejection -> render_rejection
    -> the scripted server's `fixed:` version (it reacts to "Rejected"), which passes the gates."""
    pytest.importorskip("httpx")
    import rewardlab  # noqa: F401  (registers the env ids the gates sample from)
    from rewardlab.shaping.llm.check import check_reward_code
    from rewardlab.shaping.llm.client import LLMClient
    from rewardlab.shaping.llm.views import descriptor_for

    env_id = "rewardlab/Sparse-MountainCar-v0"
    messages = render_prompt(descriptor_for(env_id), "Reach the flag.")
    with LLMClient(mode="offline", cache_dir=tmp_path, script="mountaincar") as client:
        first = client.chat(messages, seed=4)  # mountaincar.yaml: seed % 7 == 4 -> the `import` candidate
        with pytest.raises(RewardCodeRejected) as info:
            check_reward_code(first.text, env_id)
        assert (info.value.gate, info.value.rule) == ("static", "import:os")
        follow = messages + [{"role": "assistant", "content": first.text},
                             {"role": "user", "content": render_rejection(info.value)}]
        second = client.chat(follow, seed=4)
    assert "import os" not in second.text
    report = check_reward_code(second.text, env_id)
    assert report.rows > 0
