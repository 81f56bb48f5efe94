"""Learned reward blends (BARFI) and their outer step.

:class:`Blend` is a reward term ``r_p + b + sum_k w_k r_aux_k`` whose weights a trainer learns
through :func:`outer_step` once per rollout (see :mod:`rewardlab.shaping.bilevel.outer`); the
formulas of the outer gradient are in :mod:`rewardlab.shaping.bilevel.gradient`.
"""

from rewardlab.shaping.bilevel.blend import Blend
from rewardlab.shaping.bilevel.outer import PolicyBatch, outer_step, outer_terms

__all__ = ["Blend", "PolicyBatch", "outer_step", "outer_terms"]
