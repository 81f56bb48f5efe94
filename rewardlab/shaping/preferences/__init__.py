"""Rewards learned from comparisons: Bradley-Terry reward models, preference models, teachers, HERON.

* :class:`PreferenceReward` — a learned term ``r_psi`` trained from a teacher's segment comparisons;
* :class:`HierarchicalPreference` — HERON: the same, taught by a ranking of reward factors;
* :mod:`~rewardlab.shaping.preferences.model` — the partial-return and regret preference models
  (Knox et al.) and the Bradley-Terry loss;
* :mod:`~rewardlab.shaping.preferences.teachers` — scripted, hierarchical and recorded teachers;
* :mod:`~rewardlab.shaping.preferences.tabular` — exact teachers and fitted reward tables on tabular
  MDPs (the Knox et al. study, ``docs/results/preferences/``).

The networks need the ``train`` extra (torch); they load when a term first predicts or trains.
"""

from rewardlab.shaping.preferences.heron import HierarchicalPreference
from rewardlab.shaping.preferences.model import (
    PREFERENCE_MODELS,
    bradley_terry_loss,
    partial_return_probability,
    preference_probability,
    regret_probability,
    segment_regret,
)
from rewardlab.shaping.preferences.reward import PreferenceReward
from rewardlab.shaping.preferences.teachers import (
    Factor,
    HierarchicalTeacher,
    RecordedComparisons,
    ScriptedTeacher,
    Segment,
    save_comparisons,
    teacher_from_config,
)

__all__ = [
    "PreferenceReward",
    "HierarchicalPreference",
    "PREFERENCE_MODELS",
    "preference_probability",
    "partial_return_probability",
    "segment_regret",
    "regret_probability",
    "bradley_terry_loss",
    "Segment",
    "Factor",
    "ScriptedTeacher",
    "HierarchicalTeacher",
    "RecordedComparisons",
    "save_comparisons",
    "teacher_from_config",
]
