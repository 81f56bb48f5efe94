"""The LLM reward search: a job beside the ablation that writes reward code with an LLM and selects it by training.

* :mod:`~rewardlab.search.loop` — :func:`run_search`, the rounds (sample, gate, train, select, feed back);
* :mod:`~rewardlab.search.selection` — fitness on the task's own metric, argmax with tie-breaks;
* :mod:`~rewardlab.search.feedback` — Eureka reflection (component statistics) and ICPL preference text;
* :mod:`~rewardlab.search.training` — candidates trained by the ablation runner (:class:`AblationTrainer`);
* :mod:`~rewardlab.search.folder` — the output folder (every candidate, messages, search.json, the choice);
* :mod:`~rewardlab.search.cli` — ``rewardlab llm-reward generate``.

It may import ``ablation``, ``baselines`` and ``shaping``; nothing in ``shaping`` imports it.
"""

from __future__ import annotations

from rewardlab.search.loop import CandidateResult, SearchResult, run_search
from rewardlab.search.selection import REJECTED_FITNESS, fitness_of, select_best
from rewardlab.search.training import AblationTrainer, candidate_reward, reward_name

__all__ = [
    "run_search",
    "SearchResult",
    "CandidateResult",
    "REJECTED_FITNESS",
    "fitness_of",
    "select_best",
    "AblationTrainer",
    "candidate_reward",
    "reward_name",
]
