"""Learners and reference policies.

Modules (imported on use, so ``import rewardlab`` never pulls in torch or SB3):

* :mod:`rewardlab.baselines.ppo`: TorchPPO, rewardlab's batched torch PPO over any VectorEnv
  (``algo: TorchPPO`` in ablation configs).
* :mod:`rewardlab.baselines.sb3`, :mod:`rewardlab.baselines.sb3_callbacks`: Stable-Baselines3 on
  shaped envs, with task-metric logging and evaluation.
* :mod:`rewardlab.baselines.multiagent`: parameter-shared SB3 training on PettingZoo ParallelEnvs.
* :mod:`rewardlab.baselines.result`: ``RunResult``, the record both trainers return to the ablation runner.
* :mod:`rewardlab.baselines.coopetition`: equilibria, best responses and heuristics for the coopetition games.
"""
