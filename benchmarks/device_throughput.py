"""Env, reward terms and learner on one device: numpy host path vs torch device path (issue 19).

For each env (gridhack Corridors-R5 and MultiRoom-N6-Lava shaped with the bonus study's global
count bonus, coopetition TrustDilemma with its own reward) and each number of sub-envs:

* ``raw``: env steps/s of the batched env under random actions, numpy backend vs torch backend on
  ``--device`` (actions pre-sampled, already where each env wants them);
* ``e2e``: TorchPPO training steps/s (collection + shaping + GAE + update, the median over the
  rollouts after the first, which warms up), on the numpy env (learner on ``--device``, observations
  copied over each step) vs on the torch env on ``--device`` (nothing leaves the device per step);
* ``floor``: TorchPPO on a zero-cost env of the same spaces (a bank of random observations already on
  the device): the learner's own compute (policy passes, storage, GAE, the PPO update), the
  compute floor that end-to-end training can approach.

Each line prints the medians over ``--rounds`` interleaved rounds and the ratios the issue targets:
``e2e torch / floor`` (>= 0.7) and ``e2e torch / e2e numpy`` (>= 1). Hyper-parameters are the bonus
study's TorchPPO settings (examples/bonus_study.yaml). One torch thread, as in training.

``ippo`` and ``mappo`` are the same three figures for IPPO / MAPPO on the batched coopetition core
(TrustDilemma, private reward, shaped by a PBRS term on the agent's trust; ``CoreEnvs`` numpy vs
torch), in agent-steps/s, with the floor measured on a zero-cost copy of the core's outputs;
``raw`` there is the core's own step (``CoopetitionCore``) under random actions.

    python benchmarks/device_throughput.py --device cpu [--sizes 256,1024] [--envs corridors,multiroom,coop]
    python benchmarks/device_throughput.py --device cuda --sizes 256,1024,4096,8192
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

import rewardlab  # noqa: F401  (registers the rewardlab/ ids)
from rewardlab.baselines import marl
from rewardlab.baselines.ppo import PPOArgs, make_vec_env, train
from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.params import build_params
from rewardlab.shaping import PBRS, EnvReward

BONUS = {"type": "Sum", "terms": ["EnvReward", {"type": "Scale", "scale": 0.1, "term": {"type": "GlobalCount", "key": "pos"}}]}
GRIDHACK_KWARGS = {"num_contexts": 1, "observation_keys": ["glyphs_crop", "blstats"]}
ENVS: dict[str, tuple[str, dict[str, Any], Any]] = {
    "corridors": ("rewardlab/Gridhack-Corridors-R5-v0", GRIDHACK_KWARGS, BONUS),
    "multiroom": ("rewardlab/Gridhack-MultiRoom-N6-Lava-v0", GRIDHACK_KWARGS, BONUS),
    "coop": ("rewardlab/TrustDilemma-v0", {}, "EnvReward"),
}
# examples/bonus_study.yaml: the TorchPPO study settings.
STUDY = dict(n_steps=32, batch_size=512, n_epochs=4, learning_rate=5e-4, ent_coef=0.01, trunk=128, hidden=(64,))


def backend_kwargs(backend: str, device: str) -> dict[str, Any]:
    return {"backend": "numpy"} if backend == "numpy" else {"backend": "torch", "device": device}


class ZeroCostVectorEnv(gym.vector.VectorEnv):
    """An env of given spaces whose step costs nothing: it cycles through a bank of random batches on `device`."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, like: gym.vector.VectorEnv, device: str, bank: int = 8, seed: int = 0):
        self.num_envs = like.num_envs
        self.single_observation_space, self.single_action_space = like.single_observation_space, like.single_action_space
        self.observation_space, self.action_space = like.observation_space, like.action_space
        self.observation_space.seed(seed)
        rng = np.random.default_rng(seed)

        def to_device(x: Any) -> Any:
            return {k: torch.as_tensor(v, device=device) for k, v in x.items()} if isinstance(x, dict) else torch.as_tensor(x, device=device)

        self._obs = [to_device(self.observation_space.sample()) for _ in range(bank)]
        self._reward = [torch.as_tensor(rng.normal(size=self.num_envs), device=device) for _ in range(bank)]
        self._terminated = [torch.as_tensor(rng.random(self.num_envs) < 1 / 64, device=device) for _ in range(bank)]
        self._truncated = torch.zeros(self.num_envs, dtype=torch.bool, device=device)
        self._i = 0

    def reset(self, *, seed: Any = None, options: Any = None) -> tuple[Any, dict]:
        self._i = 0
        return self._obs[0], {}

    def step(self, actions: Any) -> tuple[Any, ...]:
        self._i = (self._i + 1) % len(self._obs)
        i = self._i
        return self._obs[i], self._reward[i], self._terminated[i], self._truncated, {}


def raw_steps_per_s(env_id: str, kwargs: dict[str, Any], n: int, backend: str, device: str, steps: int) -> float:
    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs, **backend_kwargs(backend, device))
    envs.reset(seed=0)
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(16)]
    if backend == "torch":
        actions = [torch.as_tensor(a, device=device) for a in actions]
    elapsed = timed_steps(envs.step, actions, device, steps)
    envs.close()
    return steps * n / elapsed


def timed_steps(step: Any, actions: list[Any], device: str, steps: int) -> float:
    """Seconds for `steps` calls of ``step`` cycling through `actions`, after 4 warm-up calls (kernels, caches)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for a in actions[:4]:
        step(a)
    sync()
    start = time.perf_counter()
    for i in range(steps):
        step(actions[i % len(actions)])
    sync()
    return time.perf_counter() - start


def e2e_steps_per_s(envs: gym.vector.VectorEnv, device: str, rollouts: int) -> float:
    """Median per-rollout training steps/s of TorchPPO after the first (warm-up) rollout."""
    args = PPOArgs(device=device, **STUDY)
    result = train(args, envs, total_steps=rollouts * args.n_steps * envs.num_envs, seed=0)
    envs.close()
    return statistics.median(row["charts/sps"] for row in result.metrics[1:])


def ppo_row(name: str, n: int, args: argparse.Namespace) -> dict[str, list[float]]:
    env_id, kwargs, reward = ENVS[name]
    rows: dict[str, list[float]] = {k: [] for k in ("raw_np", "raw_t", "e2e_np", "e2e_t", "floor")}
    for _ in range(args.rounds):  # interleaved: every variant sees the same machine load
        rows["raw_np"].append(raw_steps_per_s(env_id, kwargs, n, "numpy", args.device, args.raw_steps))
        rows["raw_t"].append(raw_steps_per_s(env_id, kwargs, n, "torch", args.device, args.raw_steps))
        if not args.skip_numpy_e2e:
            rows["e2e_np"].append(e2e_steps_per_s(make_vec_env(env_id, n, reward, {**kwargs, "backend": "numpy"}), args.device, args.rollouts))
        torch_envs = make_vec_env(env_id, n, reward, {**kwargs, **backend_kwargs("torch", args.device)})
        rows["e2e_t"].append(e2e_steps_per_s(torch_envs, args.device, args.rollouts))
        like = make_vec_env(env_id, n, None, {**kwargs, "backend": "numpy"})
        rows["floor"].append(e2e_steps_per_s(ZeroCostVectorEnv(like, args.device), args.device, args.rollouts))
    return rows


# ---------------------------------------------------------------- IPPO / MAPPO on the coopetition core

MARL_GAME = "TrustDilemma"
MARL = dict(n_steps=32, batch_size=4096, n_epochs=4, learning_rate=1e-3)  # docs/results/marl probe settings


def trust_level(obs: Any) -> Any:
    """A potential written for arrays: the agent's first observed trust value."""
    return obs[:, 0] * 10.0


def marl_envs(n: int, backend: str, device: str, shaped: bool = True) -> marl.CoreEnvs:
    reward = EnvReward() + PBRS(trust_level, gamma=0.99) if shaped else None
    return marl.CoreEnvs(MARL_GAME, n, reward, backend=backend, device=device if backend == "torch" else None, reward_mode="private")


class ZeroCostCoreEnvs:
    """CoreEnvs' interface at no step cost: it cycles through a bank of steps recorded from `like` (same shapes, same device)."""

    def __init__(self, like: marl.CoreEnvs, bank: int = 8):
        for key in ("num_envs", "n_agents", "agents", "obs_dim", "state_dim", "discrete", "n_actions", "low", "high", "device"):
            setattr(self, key, getattr(like, key))
        self._first = like.reset(seed=0)
        mid = marl._env_actions(torch.zeros(self.num_envs, self.n_agents, 1), like)  # mid-range contributions
        self._bank = [like.step(mid) for _ in range(bank)]
        self._i = 0

    def reset(self, seed: int | None = None) -> tuple[Any, Any, Any]:
        return self._first

    def step(self, actions: Any) -> marl.StepOut:
        self._i = (self._i + 1) % len(self._bank)
        return self._bank[self._i]


def marl_raw_steps_per_s(n: int, backend: str, device: str, steps: int) -> float:
    core = CoopetitionCore(build_params(MARL_GAME, reward_mode="private"), n, backend, device if backend == "torch" else None)
    core.reset(seeds=list(range(n)))
    rng = np.random.default_rng(0)
    actions = [core.as_array(rng.uniform(0, 50, (n, core.n))) for _ in range(16)]
    return steps * n * core.n / timed_steps(core.step, actions, device, steps)


def marl_e2e_steps_per_s(envs: Any, critic: str, device: str, rollouts: int) -> float:
    """Median per-rollout agent-steps/s of IPPO/MAPPO after the first (warm-up) rollout."""
    args = marl.MARLArgs(critic=critic, device=device, **MARL)
    result = marl.train(args, envs, rollouts * args.n_steps * envs.num_envs * envs.n_agents, seed=0)
    return statistics.median(row["charts/sps"] for row in result.learner_log[1:])


def marl_row(name: str, n: int, args: argparse.Namespace) -> dict[str, list[float]]:
    critic = {"ippo": "local", "mappo": "central"}[name]
    rows: dict[str, list[float]] = {k: [] for k in ("raw_np", "raw_t", "e2e_np", "e2e_t", "floor")}
    for _ in range(args.rounds):  # interleaved: every variant sees the same machine load
        rows["raw_np"].append(marl_raw_steps_per_s(n, "numpy", args.device, args.raw_steps))
        rows["raw_t"].append(marl_raw_steps_per_s(n, "torch", args.device, args.raw_steps))
        if not args.skip_numpy_e2e:
            rows["e2e_np"].append(marl_e2e_steps_per_s(marl_envs(n, "numpy", args.device), critic, args.device, args.rollouts))
        rows["e2e_t"].append(marl_e2e_steps_per_s(marl_envs(n, "torch", args.device), critic, args.device, args.rollouts))
        rows["floor"].append(marl_e2e_steps_per_s(ZeroCostCoreEnvs(marl_envs(n, "torch", args.device, shaped=False)),
                                                  critic, args.device, args.rollouts))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the torch path's device and the learner's)")
    parser.add_argument("--sizes", default=None, help="comma-separated sub-env counts (default: 256,1024 on CPU; 256,1024,4096,8192 on CUDA)")
    parser.add_argument("--envs", default=",".join([*ENVS, "ippo", "mappo"]), help=f"comma-separated subset of {[*ENVS, 'ippo', 'mappo']}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rollouts", type=int, default=3, help="rollouts per training measurement (the first is warm-up)")
    parser.add_argument("--raw-steps", type=int, default=50, help="vector steps per raw env measurement")
    parser.add_argument("--skip-numpy-e2e", action="store_true", help="leave out the numpy host path's training (slow at large sizes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    sizes = [int(s) for s in (args.sizes or ("256,1024" if args.device == "cpu" else "256,1024,4096,8192")).split(",")]
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), medians of {args.rounds} rounds")
    for name in args.envs.split(","):
        for n in sizes:
            rows = marl_row(name, n, args) if name in ("ippo", "mappo") else ppo_row(name, n, args)
            med = {k: statistics.median(v) if v else float("nan") for k, v in rows.items()}
            print(f"{name:9s} N={n:5d}  raw numpy {med['raw_np']:>11,.0f}  raw torch {med['raw_t']:>11,.0f} ({med['raw_t'] / med['raw_np']:.2f}x)  "
                  f"e2e numpy {med['e2e_np']:>9,.0f}  e2e torch {med['e2e_t']:>9,.0f}  floor {med['floor']:>9,.0f}  "
                  f"torch/floor {med['e2e_t'] / med['floor']:.2f} (>= 0.7)  torch/numpy {med['e2e_t'] / med['e2e_np']:.2f} (>= 1)", flush=True)


if __name__ == "__main__":
    main()
