"""What the action contract (docs/contracts.md) costs on the hot paths, measured side by side.

Single gridhack env: ``GridhackEnv.step`` (checks the action with ``check_discrete``, refuses a
finished episode) against the pre-contract step written out below (``int(action)`` and a range
test, no finished-episode check), on the same env, same actions, interleaved rounds. Coopetition
ParallelEnv (n = 40): the step with ``joint_action`` against the step with the pre-contract
``np.array(..., float64)`` conversion in its place.
Prints the medians (steps/s by thread CPU time) and their ratio, one line per comparison, and the
cost of the check alone in ns per call (minimum over rounds, the steadier figure on a shared machine).

    python benchmarks/action_check_overhead.py [--rounds 7] [--steps 20000] [--task KeyRoom-S10]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import rewardlab  # noqa: E402,F401
from rewardlab.envs.actions import INT_TYPES, check_discrete  # noqa: E402
from rewardlab.envs.coopetition import parallel_env  # noqa: E402
from rewardlab.envs.gridhack import env_id  # noqa: E402


def precontract_step(env, action):
    """GridhackEnv.step as it was before the contract (issue 16): int() cast, range test, no done check."""
    a = int(action)
    if not 0 <= a < env._n_actions:
        raise ValueError(a)
    env._action[0] = a
    core = env.core
    reward, terminated, truncated = core.step(env._action)
    info = {"context_id": core.context_id.item(), "is_success": core.success.item()}
    return core.observe(0), reward.item(), terminated.item(), truncated.item(), info


def run(env, step, actions) -> float:
    env.reset(seed=0)
    c0 = time.thread_time()
    for a in actions:
        _, _, terminated, truncated, _ = step(a)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.thread_time() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--task", default="KeyRoom-S10")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    env = gym.make(env_id(args.task)).unwrapped  # no TimeLimit/checker: the env's own step
    n = env.action_space.n
    rng = np.random.default_rng(0)
    kinds = {"np.int64": rng.integers(0, n, args.steps), "int": [int(a) for a in rng.integers(0, n, args.steps)]}
    pre_step = functools.partial(precontract_step, env)  # called like env.step: one C-level call, no extra frame
    run(env, env.step, kinds["int"][:2000])  # warm-up (the compiled kernel)
    for kind, actions in kinds.items():
        old, new = [], []
        for _ in range(args.rounds):  # interleaved, so a change in load hits both alike
            old.append(run(env, pre_step, actions))
            new.append(run(env, env.step, actions))
        mo, mn = statistics.median(old), statistics.median(new)
        print(f"gridhack {args.task} single env, {kind} actions: pre-contract {mo:,.0f} steps/s, "
              f"checked {mn:,.0f} steps/s, checked/pre = {mn / mo:.3f}")

    # The check alone (what the step figures above cannot resolve on a loaded machine): the fast path
    # of GridhackEnv.step against the pre-contract int() and range test, ns per call, same loop.
    def pre_check(a, n=n):
        b = int(a)
        if not 0 <= b < n:
            raise ValueError(b)
        return b

    def new_check(a, n=n, done=False):
        if done:
            raise ValueError(a)
        if type(a) in INT_TYPES and 0 <= (b := int(a)) < n:
            return b
        return check_discrete(a, n, env.action_space)

    for kind, value in (("np.int64", np.int64(3)), ("int", 3)):
        per = {}
        for name, fn in (("pre-contract", pre_check), ("checked", new_check)):
            per[name] = min(timeit.repeat(lambda: fn(value), number=100_000, repeat=args.rounds)) / 100_000 * 1e9
        print(f"gridhack action check alone, {kind}: pre-contract {per['pre-contract']:.0f} ns, checked "
              f"{per['checked']:.0f} ns per call (+{per['checked'] - per['pre-contract']:.0f} ns on a step of "
              f"{1e9 / statistics.median(new):,.0f} ns)")

    # Coopetition: the whole ParallelEnv step, with joint_action swapped for the pre-contract conversion.
    penv = parallel_env("PublicGoods", n_agents=40, max_steps=10**6)
    agents = penv.possible_agents
    acts = [{a: penv.action_space(a).sample() for a in agents} for _ in range(200)]
    checked = penv.joint_action

    def pre(actions):
        return np.array([actions[a] for a in agents], dtype=np.float64).reshape(1, -1)

    old, new = [], []
    for _ in range(args.rounds):
        for fn, out in ((pre, old), (checked, new)):
            penv.joint_action = fn
            penv.reset(seed=0)
            c0 = time.thread_time()
            for _ in range(5):
                for a in acts:
                    penv.step(a)
            out.append(1000 / (time.thread_time() - c0))
    penv.joint_action = checked
    mo, mn = statistics.median(old), statistics.median(new)
    print(f"coopetition PublicGoods n=40 ParallelEnv step: pre-contract {mo:,.0f} steps/s, checked {mn:,.0f} steps/s, "
          f"checked/pre = {mn / mo:.3f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
