"""Stable-Baselines3 callback that trains learned bonus terms at every rollout end (``train`` extra)."""

from __future__ import annotations

from typing import Any

from rewardlab.errors import InvalidParameter, MissingExtraError
from rewardlab.shaping.bonuses.training import update_learned_terms
from rewardlab.shaping.terms import Term

try:
    from stable_baselines3.common.callbacks import BaseCallback
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("rewardlab.shaping.bonuses.BonusTrainingCallback", "train", e) from e

__all__ = ["BonusTrainingCallback"]


class BonusTrainingCallback(BaseCallback):
    """Train the learned terms (E3B encoder, RND predictor) of a shaped SB3 env at each rollout end.

    The terms record their inputs while :class:`~rewardlab.wrappers.SB3RewardShaping` scores each
    step, so the rewards of the rollout (and SB3's advantages, computed before this callback runs)
    already contain the bonuses; this callback only trains, and the next rollout is scored with the
    new weights. Metrics are logged as ``bonus/<term>/<metric>``.

    :param term: the term tree to train; default: the ``term`` of the first
        ``SB3RewardShaping`` found in the training env's wrapper chain.
    :param verbose: SB3 verbosity.

    Example:
        >>> import gymnasium as gym
        >>> from stable_baselines3 import PPO
        >>> from stable_baselines3.common.vec_env import DummyVecEnv
        >>> from rewardlab.shaping import EnvReward
        >>> from rewardlab.shaping.bonuses import RND, learned_terms
        >>> from rewardlab.wrappers import SB3RewardShaping
        >>> venv = SB3RewardShaping(DummyVecEnv([lambda: gym.make("CartPole-v1")]), EnvReward() + 0.1 * RND(embed_dim=8, hidden=16))
        >>> callback = BonusTrainingCallback()
        >>> _ = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0).learn(64, callback=callback)
        >>> [t.version for t in learned_terms(callback.term)]   # two rollouts of 32 steps: trained twice
        [2]
    """

    def __init__(self, term: Term | None = None, verbose: int = 0):
        super().__init__(verbose)
        if term is not None and not isinstance(term, Term):
            raise InvalidParameter(f"`term` must be a reward term or None. Received {term!r}")
        self.term = term

    def _init_callback(self) -> None:
        if self.term is not None:
            return
        env: Any = self.training_env
        while env is not None:
            if isinstance(getattr(env, "term", None), Term):
                self.term = env.term
                return
            env = getattr(env, "venv", None)
        raise InvalidParameter(
            "BonusTrainingCallback found no SB3RewardShaping in the training env's wrappers; pass `term=` explicitly"
        )

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        for name, metrics in update_learned_terms(self.term).items():
            for key, value in metrics.items():
                self.logger.record(f"bonus/{name}/{key}", value)
