"""Reward terms: what a reward is made of, env-agnostic and batched over sub-envs.

See :mod:`rewardlab.shaping.terms` for the protocol and the composition algebra.
"""

from rewardlab.shaping.bilevel import Blend
from rewardlab.shaping.bonuses import E3B, RND, EpisodicCount, GlobalCount, NovelD, update_learned_terms
from rewardlab.shaping.combine import KRC, PAR, LogSigmoid, MultiplicativePenalty
from rewardlab.shaping.gating import Gate, gate_rollout
from rewardlab.shaping.pbrs import PBRS
from rewardlab.shaping.potentials import potentials_for, register_potentials
from rewardlab.shaping.terms import (
    Constant,
    EnvReward,
    FromFunction,
    Product,
    Scale,
    Sum,
    Term,
    Transition,
    from_config,
    register_term,
)
from rewardlab.shaping.transforms import Clip, RunningNormalize, ShapingWarning

# Registers LLMReward for configs (after the terms it builds on); the LLM client loads only when used.
from rewardlab.shaping.llm import LLMReward  # noqa: E402  isort: skip

# Registers PreferenceReward and HierarchicalPreference for configs; torch loads only when one predicts or trains.
from rewardlab.shaping.preferences import HierarchicalPreference, PreferenceReward  # noqa: E402  isort: skip

__all__ = [
    "Transition",
    "Term",
    "EnvReward",
    "PBRS",
    "Gate",
    "gate_rollout",
    "Clip",
    "Scale",
    "Sum",
    "Product",
    "RunningNormalize",
    "Constant",
    "FromFunction",
    "ShapingWarning",
    "from_config",
    "register_term",
    "potentials_for",
    "register_potentials",
    "GlobalCount",
    "EpisodicCount",
    "E3B",
    "RND",
    "NovelD",
    "update_learned_terms",
    "LLMReward",
    "PreferenceReward",
    "HierarchicalPreference",
    "KRC",
    "LogSigmoid",
    "PAR",
    "MultiplicativePenalty",
    "Blend",
]
