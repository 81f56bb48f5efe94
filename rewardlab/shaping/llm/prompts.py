"""The text rewardlab sends to an LLM: the first prompt, Eureka reflection, rejections, ICPL preference.

Functions: :func:`render_prompt` (system and user messages from an env descriptor and a task),
:func:`render_reflection` (Eureka's reward reflection: component statistics at ~10 checkpoints),
:func:`render_rejection` (a gate's rejection, asking for a fixed version), :func:`render_preference`
(ICPL: the best and the worst candidate compared), :func:`checkpoint_indices`. Constant
:data:`RULES` (the gates' rules, as the prompt states them).

Eureka (spec llm_and_bilevel.md §B1) gives the model the environment's observation code, the task,
a signature and formatting tips; Text2Reward (§A) renders a compact, Pythonic view of the env. Here
both come from one :class:`~rewardlab.shaping.llm.views.EnvDescriptor`: its fields with types,
units and ranges, the action, the info keys, the success criterion and one valid example. The
reflection and hint texts follow Eureka's prompt files (``policy_feedback.txt``,
``code_feedback.txt``, ``code_output_tip.txt``), adapted to numpy and to rewardlab's views.

Every function is a pure function of its arguments (no clock, no randomness, no set iteration), so
the same search sends byte-identical messages and replays from the request cache.

Example:
    >>> from rewardlab.shaping.llm.views import EnvDescriptor, Field
    >>> desc = EnvDescriptor("toy", "A point on a line.", (Field("x", "position", unit="m", low=-1, high=1, index=0),),
    ...                      "a python int in {0, 1}", "discrete", (("is_success", "1.0 at x = 1"),), "x >= 1", "")
    >>> system, user = render_prompt(desc, "Reach x = 1.")
    >>> system["role"], user["role"]
    ('system', 'user')
    >>> [line for line in user["content"].splitlines() if line.startswith("- obs.")]
    ['- obs.x (float, m, in [-1, 1]): position']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rewardlab.errors import InvalidParameter, RewardCodeRejected
from rewardlab.shaping.llm.views import EnvDescriptor, Field

__all__ = [
    "render_prompt",
    "render_reflection",
    "render_rejection",
    "render_preference",
    "checkpoint_indices",
    "SIGNATURE",
    "RULES",
    "TIPS",
]

SIGNATURE = "def compute_reward(obs, action, next_obs, info):"

#: The rules the gates enforce (rewardlab.shaping.llm.gates / check), one line each.
RULES: tuple[str, ...] = (
    f"Define exactly `{SIGNATURE}`; helper functions may be defined inside it.",
    "Only `np` (numpy) and `math` are available, already imported; do not import anything else.",
    "No `while` loops, no `try`, no `global`/`nonlocal`; `for` loops only over small ranges.",
    "No I/O of any kind: no files, printing, network, `np.save`/`np.load`, `np.random`.",
    "No dunder names or attributes (`__x__`), no `eval`/`exec`/`getattr`/`open`/`type`.",
    "`obs`, `next_obs`, `action` and `info` are read-only: compute new values, never modify them.",
    "Return a float, or a tuple `(total, {name: float, ...})` of the total and its named components; "
    "every value must be finite and depend only on the arguments.",
)

#: Eureka's tips for writing the reward function (code_output_tip.txt), adapted to numpy.
TIPS: tuple[str, ...] = (
    "Return the total reward and a dictionary of each individual reward component, so that each "
    "component can be inspected during training.",
    "Scale each component so that none dominates the others; per-step values between about 0.01 and 1 "
    "train well.",
    "You may normalize a component to a fixed range with a transformation such as np.exp; if you do, "
    "introduce a temperature parameter inside the transformation: a named variable in the function "
    "(not an input), one per transformed component, e.g. `distance_temperature = 0.1`.",
    "Use only the fields, action and info keys documented below; `obs` is the state before the action "
    "and `next_obs` the state after it.",
)

_SYSTEM = """You are a reward engineer trying to write reward functions to solve reinforcement learning tasks as effectively as possible.
Your goal is to write a reward function for the environment that will help the agent learn the task described in text.
Your reward function should use useful variables from the environment as inputs. The reward function signature is:
```python
{signature}
    ...
    return total, {{"component_name": component_value}}
```
Rules (code that breaks one is rejected before any training):
{rules}
Some helpful tips for writing the reward function code:
{tips}
Answer with the complete function in one ```python code block."""

# Eureka's code_feedback.txt, step (1)-(3).
_REFLECTION_TIPS = """Please carefully analyze the policy feedback and provide a new, improved reward function that can better solve the task. Some helpful tips for analyzing the policy feedback:
    (1) If the success rates are always near zero, then you must rewrite the entire reward function
    (2) If the values for a certain reward component are near identical throughout, then this means RL is not able to optimize this component as it is written. You may consider
        (a) Changing its scale or the value of its temperature parameter
        (b) Re-writing the reward component
        (c) Discarding the reward component
    (3) If some reward components' magnitude is significantly larger, then you must re-scale its value to a proper range
Please analyze each existing reward component in the suggested manner above first, and then write the reward function code.
The output of the reward function should consist of two items: (1) the total reward, (2) a dictionary of each individual reward component.
Answer with the complete function in one ```python code block."""

# Series that describe the policy, not the reward: listed after the components, never flagged as components.
_METRIC_SERIES = ("task_success", "task_return", "episode_length")
# The env's own reward, which the search adds to the candidate's: listed, but the code cannot change it.
_NOT_CANDIDATE = ("env_reward",)
_SUCCESS_NEAR_ZERO = 0.01  # Eureka's "success rates always near zero"
_CONSTANT_REL = 0.01  # spread of a component's checkpoint means below 1% of its magnitude: "near identical"
_DOMINANT_RATIO = 10.0  # mean magnitude 10x the next largest component's: "significantly larger"


def _kind_text(f: Field) -> str:
    if f.kind == "array":
        return "array" + (f" {f.shape}" if f.shape is not None else "")
    return {"float": "float", "int": "int", "text": "str"}[f.kind]


def _field_line(f: Field) -> str:
    parts = [_kind_text(f)]
    if f.unit:
        parts.append(f.unit)
    if f.range_text():
        parts.append(f"in {f.range_text()}")
    return f"- obs.{f.name} ({', '.join(parts)}): {f.doc}"


def render_prompt(desc: EnvDescriptor, task: str) -> list[dict[str, str]]:
    """The first messages of a search: ``[system, user]`` for ``desc``'s env and the user's ``task``.

    The system message states the role, the exact signature, :data:`RULES` and :data:`TIPS`; the
    user message renders the descriptor (summary, fields with types, units and ranges, action,
    info keys, success criterion, the example) and ends with the task text.

    Raises:
        InvalidParameter: an empty task.
    """
    # An empty task would leave the model guessing what to reward.
    if not isinstance(task, str) or not task.strip():
        raise InvalidParameter(f"`task` must be a non-empty description of what to learn. Received {task!r}")
    system = _SYSTEM.format(
        signature=SIGNATURE,
        rules="\n".join(f"{i}. {rule}" for i, rule in enumerate(RULES, 1)),
        tips="\n".join(f"({i}) {tip}" for i, tip in enumerate(TIPS, 1)),
    )
    lines = [f"Environment: {desc.env_id}", desc.summary.strip(), ""]
    lines.append("`obs` is the state before the action and `next_obs` the state after it; both are read-only "
                 "views with these fields (`np.asarray(obs)` is the raw observation):")
    lines += [_field_line(f) for f in desc.fields]
    lines += ["", f"`action`: {desc.action}.", ""]
    if desc.info:
        lines.append("`info` is a read-only dict of floats with exactly these keys:")
        lines += [f'- info["{key}"]: {doc}' for key, doc in desc.info]
    else:
        lines.append("`info` is an empty read-only dict.")
    lines += ["", f"Success criterion of the task: {desc.success}."]
    if desc.example.strip():
        lines += ["", "A valid reward function for this environment (a starting point, not a good solution):",
                  "```python", desc.example.rstrip("\n"), "```"]
    lines += ["", f"Task: {task.strip()}", "Write a reward function for this task."]
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def checkpoint_indices(count: int, checkpoints: int = 10) -> list[int]:
    """Indices Eureka reports out of ``count`` logged values: every ``max(count // checkpoints, 1)``-th.

    Eureka (``eureka.py``): ``epoch_freq = max(int(max_iterations // 10), 1)``, then
    ``values[::epoch_freq]``; so 25 values give 13 indices (0, 2, ..., 24) and 100 give 10.

    Example:
        >>> checkpoint_indices(25)
        [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
        >>> checkpoint_indices(100)[:3], len(checkpoint_indices(100)), checkpoint_indices(3)
        ([0, 10, 20], 10, [0, 1, 2])
    """
    freq = max(count // checkpoints, 1)
    return list(range(0, count, freq))


def _fmt(x: float) -> str:
    # Eureka prints .2f; tiny or huge magnitudes would read as 0.00 or as a wall of digits.
    return f"{x:.2f}" if x == 0 or (math.isfinite(x) and 0.01 <= abs(x) < 1e4) else f"{x:.3g}"


def _series_line(name: str, rows: Sequence[Sequence[float]], picks: Sequence[int]) -> str:
    means = [_fmt(float(rows[i][2])) for i in picks]
    hi = max(float(r[1]) for r in rows)
    lo = min(float(r[3]) for r in rows)
    avg = sum(float(r[2]) for r in rows) / len(rows)
    return f"{name}: [{', '.join(means)}], Max: {_fmt(hi)}, Mean: {_fmt(avg)}, Min: {_fmt(lo)}"


def _observations(fitness: float, stats: Mapping[str, Sequence[Sequence[float]]], metric_name: str) -> list[str]:
    """Eureka's three hints, applied to these numbers: which of them hold here."""
    notes = []
    success = stats.get("task_success")
    if metric_name == "success" and fitness <= _SUCCESS_NEAR_ZERO and (
        success is None or max(float(r[1]) for r in success) <= _SUCCESS_NEAR_ZERO
    ):
        notes.append("The success rate is near zero throughout: rewrite the entire reward function (tip 1).")
    magnitude = {}
    for name, rows in stats.items():
        if name in _METRIC_SERIES or name in _NOT_CANDIDATE or not rows:
            continue
        means = [float(r[2]) for r in rows]
        size = max(abs(m) for m in means)
        magnitude[name] = sum(abs(m) for m in means) / len(means)
        if max(means) - min(means) <= _CONSTANT_REL * size + 1e-12:
            notes.append(f"`{name}` is near identical throughout (mean {_fmt(means[0])}): rescale, rewrite or discard it (tip 2).")
    ranked = sorted(magnitude.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) >= 2 and ranked[0][1] >= _DOMINANT_RATIO * max(ranked[1][1], 1e-12):
        ratio = ranked[0][1] / max(ranked[1][1], 1e-12)
        notes.append(f"`{ranked[0][0]}` is {ratio:.3g} times larger in magnitude than `{ranked[1][0]}`, the next "
                     "largest component: re-scale it (tip 3).")
    return notes


def render_reflection(
    fitness: float,
    component_stats: Mapping[str, Sequence[tuple[int, float, float, float]]],
    metric_name: str,
) -> str:
    """Eureka's reward reflection on one trained candidate.

    Args:
        fitness: the task's own metric of the candidate (its final evaluation).
        component_stats: per scalar, ``[(step, max, mean, min), ...]`` in training order: each reward
            component (``env_reward``, the env's own reward added by the search, is listed but never
            flagged), and the policy metrics ``task_success`` / ``task_return`` / ``episode_length``
            where logged. Each line shows the means at :func:`checkpoint_indices` and the max, mean
            and min over all entries.
        metric_name: ``"success"`` (success rate) or ``"task_return"``.

    Raises:
        InvalidParameter: no statistics, or a row that is not ``(step, max, mean, min)``.
    """
    if not component_stats or not any(component_stats.values()):
        raise InvalidParameter("`component_stats` is empty: there is nothing to reflect on (did any episode finish?)")
    for name, rows in component_stats.items():
        for row in rows:
            # A row of another shape would be read as the wrong statistic.
            if len(row) != 4:
                raise InvalidParameter(f"`component_stats[{name!r}]` rows must be (step, max, mean, min). Received {row!r}")
    names = [n for n in component_stats if n not in _METRIC_SERIES and component_stats[n]]
    names += [n for n in _METRIC_SERIES if component_stats.get(n)]
    longest = max(names, key=lambda n: len(component_stats[n]))
    picks = checkpoint_indices(len(component_stats[longest]))
    steps = [int(component_stats[longest][i][0]) for i in picks]
    freq = max(len(component_stats[longest]) // 10, 1)
    label = "success rate" if metric_name == "success" else metric_name.replace("_", " ")
    lines = [
        "We trained a RL policy using the provided reward function code and tracked the values of the individual "
        "components in the reward function as well as global policy metrics such as success rates and episode "
        f"lengths at {len(picks)} points of training (env steps {steps}: every {freq}-th logged value, each a mean "
        "per episode) and the maximum, mean, minimum values encountered:"
    ]
    for name in names:
        rows = component_stats[name]
        lines.append(_series_line(name, rows, checkpoint_indices(len(rows))))
    lines.append(f"task_score ({label} at the final evaluation): {_fmt(float(fitness))}")
    notes = _observations(float(fitness), component_stats, metric_name)
    if notes:
        lines += ["", "What these numbers show:"] + [f"- {n}" for n in notes]
    lines += ["", _REFLECTION_TIPS]
    return "\n".join(lines)


def render_rejection(err: RewardCodeRejected) -> str:
    """The feedback for a candidate a gate rejected: gate, rule, line, detail and hint, asking for a fix.

    The text starts with ``Rejected [gate:rule]`` (the scripted server answers a fixed version when
    it sees a rejection).

    Example:
        >>> err = RewardCodeRejected("static", "import:os", "`import os` is not allowed", line=1,
        ...                          hint="use only np and math, which are available without import")
        >>> print(render_rejection(err))
        Rejected [static:import:os] at line 1: `import os` is not allowed
        Hint: use only np and math, which are available without import
        Please fix this and answer with the complete corrected compute_reward function in one ```python code block.

    Raises:
        InvalidParameter: ``err`` is not a :class:`~rewardlab.errors.RewardCodeRejected`.
    """
    if not isinstance(err, RewardCodeRejected):
        raise InvalidParameter(f"`err` must be a RewardCodeRejected (a gate's verdict). Received {type(err).__name__}")
    where = f" at line {err.line}" if err.line is not None else ""
    lines = [f"Rejected [{err.gate}:{err.rule}]{where}: {err.detail}"]
    if err.hint:
        lines.append(f"Hint: {err.hint}")
    lines.append("Please fix this and answer with the complete corrected compute_reward function in one ```python code block.")
    return "\n".join(lines)


def render_preference(best_code: str, best_summary: str, worst_code: str, worst_summary: str) -> str:
    """ICPL-style feedback (spec §B3): the best and the worst candidate of a round, ranked by the task metric.

    Args:
        best_code, worst_code: the two reward functions' sources.
        best_summary, worst_summary: how each trained policy did (task metric, episode lengths, components).
    """
    return "\n".join([
        "We trained one policy with each reward function and ranked them by the task's own metric. "
        "Here are the best and the worst of them.",
        "",
        "The best reward function:",
        "```python", best_code.rstrip("\n"), "```",
        "How the policy trained with it did:",
        best_summary.rstrip("\n"),
        "",
        "The worst reward function:",
        "```python", worst_code.rstrip("\n"), "```",
        "How the policy trained with it did:",
        worst_summary.rstrip("\n"),
        "",
        "Compare the two: which components and scales explain why the best one did better? Then write a new "
        "reward function that keeps what works in the best one, avoids what failed in the worst one, and "
        "improves on the best one.",
        "Answer with the complete function in one ```python code block.",
    ])
