"""Soak test of the batched cores: many random steps, no NaN, observations in their space, flat memory.

For each gridhack task and coopetition game given, a vector env (``vector_entry_point``, B sub-envs)
is stepped with uniformly random actions for ``--steps`` env-steps (summed over sub-envs;
autoreset included). Every step's rewards (and coopetition's float observations) are checked for
NaN/inf; every ``--check-every`` steps the batch of observations is checked against the
observation space. The resident set size (RSS, from /proc/self/statm) is read after a warm-up of
10% of the steps and at the end: a leak of even one small array per step shows as growth.

    python benchmarks/soak.py [--steps 1000000] [--gridhack KeyRoom-S10 ...] [--coopetition TrustDilemma ...]
        [--num-envs 256] [--json]

One line per env (or a JSON list with ``--json``, which tests/test_soak.py reads).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rewardlab  # noqa: E402,F401

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    """Current resident set size of this process, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def _nonfinite(x) -> int:
    a = np.asarray(x)
    return int((~np.isfinite(a)).sum()) if a.dtype.kind == "f" else 0


def soak(env_id: str, steps: int, num_envs: int, seed: int = 0, check_every: int = 1000, **kwargs) -> dict:
    """Step `env_id`'s vector env with random actions for `steps` env-steps; the figures as a dict."""
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    space = envs.single_action_space
    rng = np.random.default_rng(seed)
    obs, _ = envs.reset(seed=seed)
    batches = max(1, steps // num_envs)
    warm = max(1, batches // 10)
    bad_values = bad_obs = episodes = 0
    rss_warm = None
    t0 = time.perf_counter()
    for i in range(batches):
        if i == warm:
            rss_warm = rss_mib()
        if isinstance(space, gym.spaces.Discrete):
            actions = rng.integers(space.start, space.start + space.n, num_envs)
        else:  # random contributions over the whole box, and beyond it (clipped by contract)
            actions = rng.uniform(space.low - 0.1 * (space.high - space.low), space.high * 1.1,
                                  (num_envs, *space.shape)).astype(space.dtype)
        obs, rewards, terminated, truncated, info = envs.step(actions)
        bad_values += _nonfinite(rewards)
        if isinstance(obs, np.ndarray):
            bad_values += _nonfinite(obs)
        episodes += int(np.sum(terminated | truncated))
        if i % max(1, check_every // num_envs) == 0 and not envs.observation_space.contains(obs):
            bad_obs += 1
    seconds = time.perf_counter() - t0
    rss_end = rss_mib()
    envs.close()
    return {"env": env_id, "num_envs": num_envs, "env_steps": batches * num_envs, "seconds": round(seconds, 2),
            "env_steps_per_s": round(batches * num_envs / seconds), "episodes": episodes,
            "nonfinite": bad_values, "obs_outside_space": bad_obs,
            "rss_after_warmup_mib": round(rss_warm if rss_warm is not None else rss_end, 1),
            "rss_end_mib": round(rss_end, 1), "rss_growth_mib": round(rss_end - (rss_warm or rss_end), 1),
            "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000, help="env-steps per env (summed over sub-envs)")
    ap.add_argument("--num-envs", type=int, default=256)
    ap.add_argument("--gridhack", nargs="*", default=["KeyRoom-S10", "MultiRoom-N6-LavaMonsters"])
    ap.add_argument("--coopetition", nargs="*", default=["TrustDilemma", "PublicGoods", "DynamicPartnerSelection"])
    ap.add_argument("--check-every", type=int, default=10_000, help="env-steps between observation-space checks")
    ap.add_argument("--json", action="store_true", help="print one JSON list instead of lines")
    args = ap.parse_args()
    ids = [f"rewardlab/Gridhack-{t}-v0" for t in args.gridhack] + [f"rewardlab/{g}-v0" for g in args.coopetition]
    results = []
    for env_id in ids:
        r = soak(env_id, args.steps, args.num_envs, check_every=args.check_every)
        results.append(r)
        if not args.json:
            print(f"{r['env']}: {r['env_steps']:,} env-steps (B={r['num_envs']}) in {r['seconds']} s "
                  f"({r['env_steps_per_s']:,}/s), {r['episodes']:,} episodes, non-finite values {r['nonfinite']}, "
                  f"observations outside the space {r['obs_outside_space']}, RSS {r['rss_after_warmup_mib']} MiB after "
                  f"warm-up -> {r['rss_end_mib']} MiB at the end ({r['rss_growth_mib']:+} MiB)", flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
