"""Shared pieces of the search tests: scripted candidates with known fitness, and a fake trainer.

The fake trainer stands in for training only where a test is about the loop's logic or the LLM
path (spec check H13 and H10), never about training: the loop calls it at the same boundary where
the real :class:`~rewardlab.search.training.AblationTrainer` would train. Each scripted code carries
its fitness as ``FITNESS = <value>``, which the fake trainer reads back: the expected selection
is then a hand computation on those numbers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_FITNESS = re.compile(r"FITNESS = ([0-9.]+)")


def scored_code(value: float, component: str = "bonus") -> str:
    """A valid reward (passes both gates) whose fake-trainer fitness is ``value``."""
    return (
        "def compute_reward(obs, action, next_obs, info):\n"
        f"    FITNESS = {value}\n"
        f"    {component} = 0.001 * FITNESS * (next_obs.position + 1.2)\n"
        f"    return {component}, {{\"{component}\": {component}}}\n"
    )


SYNTAX_ERROR = "def compute_reward(obs, action, next_obs, info)\n    return 0.0\n"


def write_script(path: Path, codes: list[str]) -> str:
    """A scripted-server script whose candidate ``i`` answers seed ``i`` (seeds ``i % len(codes)``)."""
    script = {
        "name": "search-test",
        "about": "scripted candidates with known fitness for the search tests (not written by a model)",
        "candidates": [{"name": f"c{i}", "code": code} for i, code in enumerate(codes)],
    }
    path.write_text(yaml.safe_dump(script, sort_keys=False))
    return str(path)


class FakeTrainer:
    """``trainer(codes) -> records`` reading each code's ``FITNESS = v`` as its final success rate.

    A code without the marker gets 0.05 (a valid reward the test did not score by hand). ``calls``
    lists every batch of codes it was asked to train; ``crash`` names values whose run fails as a
    trainer crash would (a ``failed`` record with a traceback).
    """

    def __init__(self, crash: tuple[float, ...] = ()) -> None:
        self.calls: list[list[str]] = []
        self.crash = crash

    def __call__(self, codes: list[str]) -> list[dict[str, Any]]:
        self.calls.append(list(codes))
        return [self.record(c) for c in codes]

    def record(self, code: str) -> dict[str, Any]:
        m = _FITNESS.search(code)
        v = float(m.group(1)) if m else 0.05
        if v in self.crash:
            return {"key": f"fake{v}", "status": "failed", "error": "RuntimeError: trainer blew up",
                    "traceback": "Traceback (most recent call last):\n  ...\nRuntimeError: trainer blew up"}
        episodes = [{"step": 100 * (i + 1), "length": 100, "success": float(i >= 8),
                     "task_return": 0.0, "terms": {"env": 0.0, "llm_bonus": v * i}} for i in range(20)]
        return {
            "key": f"fake{v}",
            "status": "completed",
            "steps": 2000,
            "final": {"success": v, "task_return": v},
            "curve": [{"step": 0, "success": 0.0, "task_return": 0.0}, {"step": 1000, "success": v, "task_return": v},
                      {"step": 2000, "success": v, "task_return": v}],
            "episodes": episodes,
        }
