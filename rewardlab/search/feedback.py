"""What the next round's prompt is told about this round: Eureka reflection or ICPL preference.

Functions: :func:`component_stats`, :func:`rollout_summary`, :func:`failure_text`, :func:`round_feedback`.

Eureka (spec llm_and_bilevel.md §B1 step 5) reports every logged scalar at about 10 evenly spaced
points of training with max/mean/min; here those scalars are the reward components' episode sums
(the run record's training ``episodes[i]["terms"]``), the task success and the episode length,
each split into ``checkpoints`` consecutive windows of training episodes. ICPL (§B3) shows the
best and the worst candidate instead, ranked by the task metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["component_rename", "component_stats", "rollout_summary", "failure_text", "round_feedback", "CHECKPOINTS"]

#: Points of training the reflection reports (Eureka: ``epoch_freq = max(T // 10, 1)``).
CHECKPOINTS = 10


def component_rename(names: Sequence[str] | set[str], llm_term: str = "llm") -> dict[str, str]:
    """Run-record term names -> the names the LLM knows: its own components, and ``env_reward``.

    Example:
        >>> sorted(component_rename({"env", "llm", "llm_energy", "llm_success"}).items())
        [('env', 'env_reward'), ('llm', 'unnamed_remainder'), ('llm_energy', 'energy'), ('llm_success', 'success')]
    """
    out = {}
    named = any(n.startswith(llm_term + "_") for n in names)
    for n in names:
        if n == "env":
            out[n] = "env_reward"  # the task's own (sparse) reward, added to the candidate's
        elif n == llm_term:
            # LLMReward logs the total minus the named components (clipping, fallbacks) under its own name.
            out[n] = "unnamed_remainder" if named else "total"
        elif n.startswith(llm_term + "_"):
            out[n] = n[len(llm_term) + 1 :]
    return out


def _windows(n: int, k: int) -> list[tuple[int, int]]:
    # k consecutive, nearly equal windows over n items (fewer when n < k).
    k = max(1, min(k, n))
    edges = [round(i * n / k) for i in range(k + 1)]
    return [(edges[i], edges[i + 1]) for i in range(k) if edges[i + 1] > edges[i]]


def component_stats(
    episodes: Sequence[Mapping[str, Any]],
    checkpoints: int = CHECKPOINTS,
    rename: Mapping[str, str] | None = None,
) -> dict[str, list[tuple[int, float, float, float]]]:
    """Per scalar, ``[(step, max, mean, min), ...]`` over ``checkpoints`` windows of training episodes.

    Scalars: each reward term's episode sum (named by ``rename`` when given, e.g. an LLM term's
    prefixed component back to the name the code used), ``task_success`` when the env reports
    success, and ``episode_length``. ``step`` is the env step at which the window's last episode ended.

    Example:
        >>> eps = [{"step": 10 * (i + 1), "length": 10, "success": float(i >= 2), "terms": {"env": float(i >= 2), "llm_bonus": 0.1 * i}} for i in range(4)]
        >>> stats = component_stats(eps, checkpoints=2, rename={"llm_bonus": "bonus"})
        >>> sorted(stats)
        ['bonus', 'env', 'episode_length', 'task_success']
        >>> stats["bonus"]
        [(20, 0.1, 0.05, 0.0), (40, 0.3, 0.25, 0.2)]
    """
    rename = dict(rename or {})
    names: list[str] = []
    for ep in episodes:
        for name in ep.get("terms", {}):
            if name not in names:
                names.append(name)
    # A remainder that is zero throughout says nothing, and would read as a "constant component".
    names = [n for n in names if rename.get(n) != "unnamed_remainder" or any(ep.get("terms", {}).get(n, 0.0) != 0.0 for ep in episodes)]
    has_success = any(not _nan(ep.get("success")) for ep in episodes)
    out: dict[str, list[tuple[int, float, float, float]]] = {}
    for lo, hi in _windows(len(episodes), checkpoints):
        window = episodes[lo:hi]
        step = int(window[-1].get("step", hi))
        series: dict[str, list[float]] = {rename.get(n, n): [float(ep.get("terms", {}).get(n, 0.0)) for ep in window] for n in names}
        if has_success:
            series["task_success"] = [float(ep["success"]) for ep in window if not _nan(ep.get("success"))]
        series["episode_length"] = [float(ep.get("length", 0)) for ep in window]
        for name, values in series.items():
            if values:
                out.setdefault(name, []).append((step, _r(max(values)), _r(sum(values) / len(values)), _r(min(values))))
    return out


def _r(x: float) -> float:
    # Four significant digits: enough for the LLM, and stable text for the cache key.
    return float(f"{x:.4g}")


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def rollout_summary(record: Mapping[str, Any], fitness: float, metric: str, rename: Mapping[str, str] | None = None) -> str:
    """A few lines on how the policy trained with a candidate behaved, for ICPL-style comparison.

    Example:
        >>> rec = {"steps": 40, "final": {"success": 0.5, "task_return": 0.5}, "curve": [{"step": 40, "success": 0.5, "task_return": 0.5}],
        ...        "episodes": [{"step": 40, "length": 200, "success": 1.0, "terms": {"env": 1.0}}]}
        >>> print(rollout_summary(rec, 0.5, "success"))
        task success (final evaluation): 0.5 after 40 env steps
        training episodes: 1, last 10%: mean length 200, mean task success 1
        reward components per episode (last 10% of training): env mean 1
    """
    episodes = list(record.get("episodes", []))
    tail = episodes[-max(1, len(episodes) // 10):] if episodes else []
    label = "task success" if metric == "success" else "task return"
    lines = [f"{label} (final evaluation): {fitness:.4g} after {int(record.get('steps', 0))} env steps"]
    if tail:
        mean_len = sum(float(ep.get("length", 0)) for ep in tail) / len(tail)
        succ = [float(ep["success"]) for ep in tail if not _nan(ep.get("success"))]
        extra = f", mean task success {sum(succ) / len(succ):.4g}" if succ else ""
        lines.append(f"training episodes: {len(episodes)}, last 10%: mean length {mean_len:.4g}{extra}")
        rename = dict(rename or {})
        names = sorted({n for ep in tail for n in ep.get("terms", {})})
        parts = [f"{rename.get(n, n)} mean {sum(float(ep.get('terms', {}).get(n, 0.0)) for ep in tail) / len(tail):.4g}" for n in names]
        if parts:
            lines.append("reward components per episode (last 10% of training): " + ", ".join(parts))
    else:
        lines.append("no training episode finished")
    return "\n".join(lines)


def failure_text(index: int, error: Any) -> str:
    """The feedback line for a failed candidate: its gate rejection (rendered for the LLM) or its training crash."""
    from rewardlab.errors import RewardCodeRejected

    if isinstance(error, RewardCodeRejected):
        from rewardlab.shaping.llm.prompts import render_rejection

        return f"Candidate {index} was rejected before training.\n{render_rejection(error)}"
    return f"Candidate {index} crashed during training (Traceback shown last):\n{error}"


def round_feedback(
    mode: str,
    best: Any,
    worst: Any | None,
    failures: Sequence[tuple[int, Any]],
) -> str:
    """The user message that follows the best response in the next round's prompt.

    Args:
        mode: ``"reflection"`` (Eureka: the best candidate's component statistics and fitness) or
            ``"preference"`` (ICPL: the best and the worst trained candidates compared; with fewer
            than two trained candidates it falls back on reflection).
        best, worst: :class:`~rewardlab.search.loop.CandidateResult` of the round (worst may be None).
        failures: ``(candidate index, RewardCodeRejected or crash text)`` of the failed candidates.
    """
    from rewardlab.shaping.llm.prompts import render_preference, render_reflection

    if mode == "preference" and worst is not None and worst is not best:
        text = render_preference(
            best.code, rollout_summary(best.record, best.fitness, best.metric, best.rename),
            worst.code, rollout_summary(worst.record, worst.fitness, worst.metric, worst.rename),
        )  # fmt: skip
    else:
        stats = component_stats(best.record.get("episodes", []), rename=best.rename)
        if stats:
            text = render_reflection(best.fitness, stats, best.metric)
        else:  # a budget shorter than one episode: nothing to reflect on but the final evaluation
            label = "success rate" if best.metric == "success" else "task return"
            text = (f"We trained a RL policy with the provided reward function for {int(best.record.get('steps', 0))} env "
                    "steps, but no training episode finished, so there are no component statistics.\n"
                    f"task_score ({label} at the final evaluation): {best.fitness:.4g}\n"
                    "Please write an improved reward function, in one ```python code block.")  # fmt: skip
    if failures:
        text += "\n\nThese candidates of the same round failed:\n\n" + "\n\n".join(failure_text(i, e) for i, e in failures)
    return text
