"""``HierarchicalPreference``: HERON's reward from a ranking of reward factors (Bukharin et al., arXiv 2309.02632).

The user gives no weights, only the factors in order of importance (``["is_success", "-energy"]``)
and a margin multiplier; a :class:`~rewardlab.shaping.preferences.teachers.HierarchicalTeacher`
compares segments factor by factor, and a :class:`PreferenceReward` model is trained on its
decisions with the Bradley-Terry loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rewardlab.errors import InvalidParameter
from rewardlab.shaping.preferences.reward import PreferenceReward
from rewardlab.shaping.preferences.teachers import Factor, HierarchicalTeacher
from rewardlab.shaping.terms import register_term

__all__ = ["HierarchicalPreference"]


@register_term
class HierarchicalPreference(PreferenceReward):
    """HERON: a reward model trained on hierarchical comparisons of ranked factors.

    Segments are compared on the first factor (a strictly larger sum wins), then on each next
    factor whose sums differ by more than ``sigma_mult`` times its running std over the segments
    seen; pairs no level decides are skipped (see :class:`HierarchicalTeacher`).

    Args:
        factors: factor specs in order of importance: info keys (``"is_success"``), ``"-key"`` when
            lower is better (``"-energy"``), or functions of the transition (``'fn:module:name'`` in configs).
        sigma_mult: the margin multiplier of levels 2 and below (HERON's default 1).
        **kwargs: the reward model and its training, as in :class:`PreferenceReward`.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> term = HierarchicalPreference(["is_success", "-energy"], segment_length=1, pairs_per_update=16, hidden=8)
        >>> rng = np.random.default_rng(0)
        >>> for _ in range(4):
        ...     a = rng.normal(size=(4, 1))
        ...     info = {"is_success": rng.random(4) < 0.3, "energy": a[:, 0] ** 2}
        ...     _ = term(Transition(a, a, a, np.zeros(4), np.zeros(4, bool), np.zeros(4, bool), np.ones(4, bool), info))
        >>> term.update()["segments"], term.teacher.factors
        (16.0, ['is_success', 'energy'])
    """

    def __init__(
        self,
        factors: Sequence[str | Callable[[Any], Any]],
        sigma_mult: float = 1.0,
        inputs: Sequence[str] | None = None,
        num_actions: int | None = None,
        segment_length: int = 25,
        pairs_per_update: int = 64,
        hidden: int = 64,
        lr: float = 1e-3,
        batch_size: int = 64,
        steps_per_update: int = 32,
        capacity: int = 1024,
        normalize: bool = True,
        seed: int = 0,
        name: str | None = None,
    ):
        if isinstance(factors, (str, bytes)) or not isinstance(factors, Sequence) or not factors:
            raise InvalidParameter(f"`factors` must be a non-empty list of factors in order of importance. Received {factors!r}")
        names = [Factor(f).name for f in factors]
        if len(set(names)) != len(names):
            raise InvalidParameter(f"`factors` must name each factor once. Received {list(factors)!r}")
        rest = dict(inputs=inputs, num_actions=num_actions, segment_length=segment_length, pairs_per_update=pairs_per_update,
                    hidden=hidden, lr=lr, batch_size=batch_size, steps_per_update=steps_per_update, capacity=capacity,
                    normalize=normalize, seed=seed)  # fmt: skip
        super().__init__(HierarchicalTeacher(names, sigma_mult), factors=factors, name=name, **rest)
        # The config holds the ranking, not the teacher it builds.
        self._params = {"factors": self._params["factors"], "sigma_mult": float(sigma_mult), **{k: self._params[k] for k in rest}}

    def default_name(self) -> str:
        return "heron"
