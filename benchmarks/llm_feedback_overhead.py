"""The env loop does not wait for the LLM: a gridhack rollout shaped with `LLMFeedbackReward` vs without it.

All arms step the same batched gridhack vector env (``rewardlab/Gridhack-LavaCross-v0``, whose random
rollouts show ~20 distinct messages) through ``VectorRewardShaping`` (``--single``: one unbatched env
through ``RewardShaping``, the terms' scalar path) with the same pre-sampled random actions: arm A with ``EnvReward()``, arm B with ``EnvReward() + LLMFeedbackReward(...)`` whose
annotator talks to a scripted server (in this process, over loopback) that answers each request
after ``--latency`` seconds (default 0.2 s: a slow model). Every B round builds a fresh term, so its
annotator starts with no labels and its requests are in flight while the rollout runs; the script
prints how many requests were answered during the rollout. One client (and its scripted server)
serves all rounds and starts before the clock, as one does per training run. Arm C is the same term
with every label already known (no request during its rollout): its own per-step work of decoding,
counting and looking up texts. Arm D is the floor of any added term: ``EnvReward() + Constant(0.0)``,
a Sum that computes nothing more, so D / A is what the composition alone costs. Arm F (vector envs
only) is the floor of the term's reading of the texts: ``EnvReward() + ReadTexts``, a term that only
reads each step's texts as LLMFeedbackReward does (its ``texts``: a dict lookup of each non-empty
row's bytes, cache warm) and pays 0; where F / A is below 0.9, the term cannot reach 0.9 on that
rollout without a cheaper way to read the texts. Rounds are interleaved; the script prints the
median steps/s of each arm and the ratios B / A (issue 20: >= 0.9), B / C (what waiting for the LLM
costs: 1.0 means the loop never waits) and C / A (the term's own work).

Arms PA and PB are A and B as a trainer's rollout runs them: the actions come from TorchPPO's policy
(``Agent.act`` under ``no_grad``, the ONI study's network: ``trunk=128, hidden=[64]``, untrained) on
each step's observation instead of from the pre-sampled array. Random actions leave nothing but the
env's step beside the term, and a batched gridhack step costs ~1 us per sub-env, so there the term's
few microseconds of Python per step are a large share; PB / PA is what the term costs a training run's
collection. (PPO's update, not timed here, makes its share of a whole run smaller still.)

Steps/s are wall-clock (``time.perf_counter``). The annotator's thread and the scripted server share
this process (and its GIL), so their work is inside the measured time. On a shared machine, run it
when it is quiet; the script also prints the ratios in CPU time of this process (``time.process_time``,
all its threads), which do not count the time other processes take from it.

    python benchmarks/llm_feedback_overhead.py [--rounds 15] [--steps 10000] [--envs 16 | --single] [--latency 0.2] [--variant retrieval]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import rewardlab  # noqa: F401  (registers the rewardlab/ ids)
from rewardlab.baselines.ppo import Agent, PPOArgs
from rewardlab.shaping import Constant, EnvReward, Term, Transition
from rewardlab.shaping.llm.annotation import Annotator
from rewardlab.shaping.llm.client import LLMClient
from rewardlab.shaping.llm.feedback import LLMFeedbackReward
from rewardlab.shaping.llm.server import load_script
from rewardlab.wrappers import RewardShaping, VectorRewardShaping

ENV_ID = "rewardlab/Gridhack-LavaCross-v0"
TASK = "Cross the lava river with whichever of potion, boots, horn or wand lies there, then reach the stairs down."


class ReadTexts(Term):
    """Arm F's term: reads each step's event texts as `reader` (an LLMFeedbackReward) does and pays 0."""

    def __init__(self, reader: LLMFeedbackReward):
        super().__init__(None)
        self.reader = reader

    def __call__(self, t: Transition) -> np.ndarray:
        self.reader.texts(t)
        return np.zeros(t.num_envs)


def rollout(envs: Any, actions: np.ndarray, cpu: list[float] | None = None, policy: Callable[[Any], Any] | None = None) -> float:
    """Wall seconds of one rollout over the pre-sampled `actions` (vector steps x envs, or steps for one env), or
    as many steps acted by ``policy(obs)``; its CPU seconds (this process, every thread) are appended to `cpu`."""
    obs, _ = envs.reset(seed=0)
    start, start_cpu = time.perf_counter(), time.process_time()
    if isinstance(envs, RewardShaping):  # one env: reset by hand at episode ends
        for a in actions:
            obs, _, terminated, truncated, _ = envs.step(int(a) if policy is None else policy(obs))
            if terminated or truncated:
                obs, _ = envs.reset()
    else:
        for a in actions:
            obs = envs.step(a if policy is None else policy(obs))[0]
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--steps", type=int, default=10_000, help="env steps per rollout (summed over sub-envs)")
    p.add_argument("--envs", type=int, default=16)
    p.add_argument("--latency", type=float, default=0.2, help="seconds the scripted server takes per answer")
    p.add_argument("--variant", default="retrieval", choices=["retrieval", "classification"])
    p.add_argument("--single", action="store_true", help="one unbatched env (gym.make + RewardShaping) instead of a vector env")
    args = p.parse_args()

    keys = ("glyphs_crop", "blstats", "message")
    if args.single:  # one unbatched env through RewardShaping (the terms' scalar `single` path)
        args.envs = 1
        base = gym.make(ENV_ID, observation_keys=keys)
        n_vec = args.steps
        actions = np.random.default_rng(0).integers(0, base.action_space.n, n_vec)
        shape = RewardShaping
    else:
        base = gym.make_vec(ENV_ID, num_envs=args.envs, vectorization_mode="vector_entry_point", observation_keys=keys)
        n_vec = args.steps // args.envs
        actions = np.random.default_rng(0).integers(0, base.single_action_space.n, (n_vec, args.envs))
        shape = VectorRewardShaping
    script = dataclasses.replace(load_script("gridhack_events"), latency_s=args.latency)
    plain = shape(base, EnvReward())
    # Arm D, the floor of any added term: a second term that costs nothing (Constant(0)) still makes the
    # reward a Sum, whose composition costs the same as the Sum in arms B and C.
    floor = shape(base, EnvReward() + Constant(0.0))
    # One client (and its scripted server) for the whole run, as a training run has, started before the
    # clock and warmed by one request: building an HTTP client costs ~0.1 s of CPU once, which a 0.3 s
    # rollout would otherwise mostly measure. Every round still gets a fresh annotator with no labels.
    client = LLMClient(mode="offline", script=script)
    Annotator(TASK, client).annotate(["warm-up"])
    rollout(plain, actions[:50])  # warm-up: imports, first allocations

    # Arm C: the same term with every label known before the rollout (no request at all), i.e. the
    # term's own per-step work; B / C is what waiting for the LLM costs (1.0: it never waits).
    known = LLMFeedbackReward(variant=args.variant, annotator=Annotator(TASK, client))
    rollout(shape(base, EnvReward() + known), actions)
    known.annotator.wait(timeout=120)
    known.update()
    known_shaped = shape(base, EnvReward() + known)
    read_only = None if args.single else shape(base, EnvReward() + ReadTexts(known))

    # Arms PA and PB act with TorchPPO's policy, the ONI study's network (examples/oni_gridhack.yaml), untrained:
    # what is measured is its cost per step, not its skill.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    obs_space, action_space = (base.observation_space, base.action_space) if args.single else (base.single_observation_space, base.single_action_space)
    agent = Agent(obs_space, action_space, PPOArgs(trunk=128, hidden=[64]))
    generator = torch.Generator().manual_seed(0)

    @torch.no_grad()
    def policy(obs: dict[str, np.ndarray]) -> Any:
        action = agent.act({k: torch.as_tensor(v[None] if args.single else v) for k, v in obs.items()}, generator)[0].numpy()
        return int(action[0]) if args.single else action

    arms = ("A", "B", "C", "D", "F", "PA", "PB")
    sps: dict[str, list[float]] = {k: [] for k in arms}
    cpu: dict[str, list[float]] = {k: [] for k in arms}
    def timed(arm: str, envs: Any, act: Callable[[Any], Any] | None = None) -> None:
        sps[arm].append(n_vec * args.envs / rollout(envs, actions, cpu[arm], act))

    def with_fresh_term(arm: str, act: Callable[[Any], Any] | None = None) -> tuple[int, int, int]:
        """A rollout shaped by a fresh term (no labels yet); then its answers are awaited and it is stopped.
        Returns what its annotator had done during the rollout: answered requests, labels, texts still in flight."""
        term = LLMFeedbackReward(variant=args.variant, annotator=Annotator(TASK, client))
        timed(arm, shape(base, EnvReward() + term), act)
        ann = term.annotator
        during = (ann.requests, len(ann), len(ann.in_flight))
        ann.wait(timeout=120)
        term.close()
        return during

    asked = []
    for _ in range(args.rounds):
        timed("A", plain)
        timed("D", floor)
        if read_only is not None:
            timed("F", read_only)
        asked.append(with_fresh_term("B"))
        timed("C", known_shaped)
        timed("PA", plain, policy)
        with_fresh_term("PB", policy)
    requests_c = known.annotator.requests
    base.close()
    client.close()

    a, b, c, d = (statistics.median(sps[k]) for k in "ABCD")
    print(f"{ENV_ID}, {'one unbatched env (RewardShaping)' if args.single else f'{args.envs} envs'}, {n_vec * args.envs} env steps per rollout, random actions, {args.rounds} interleaved rounds")
    print(f"scripted server latency {args.latency:g} s per request (scripted labels, not a model); variant {args.variant}")
    print("B: during each rollout (requests answered, labels, texts in flight at its end): "
          + ", ".join(f"({r}, {n}, {f})" for r, n, f in asked))
    print(f"A without LLMFeedbackReward: {a:,.0f} steps/s | B with it, labels arriving: {b:,.0f} steps/s | "
          f"C with it, all {len(known.annotator)} labels known ({requests_c} requests before, none during): {c:,.0f} steps/s")
    print(f"ratio B/A {b / a:.3f} (target >= 0.9) | B/C {b / c:.3f} (the cost of waiting for the LLM; 1 = none) | C/A {c / a:.3f} (the term's own work)")
    print(f"floor D/A {d / a:.3f}: EnvReward + Constant(0) ({d:,.0f} steps/s), what adding any term costs in the Sum's composition; B/D {b / d:.3f}")
    if sps["F"]:
        f = statistics.median(sps["F"])
        print(f"floor F/A {f / a:.3f}: EnvReward + a term that only reads each step's texts as LLMFeedbackReward does and "
              f"pays 0 ({f:,.0f} steps/s): the term's ratio cannot pass this without a cheaper way to read the texts")
    # CPU seconds per rollout (every thread of this process: the annotator's and the scripted server's too) do not
    # count the time other processes hold the CPU, so on a shared machine they say what the wall-clock ratios mean.
    ca, cb, cc, cd = (statistics.median(cpu[k]) for k in "ABCD")
    read = f", F +{(statistics.median(cpu['F']) - ca) / n_vec * 1e6:.1f}" if cpu["F"] else ""
    print(f"CPU time (this process): B/A {ca / cb:.3f} | C/A {ca / cc:.3f} | D/A {ca / cd:.3f} | "
          f"A {ca / n_vec * 1e6:.1f} us per vector step, B +{(cb - ca) / n_vec * 1e6:.1f}, C +{(cc - ca) / n_vec * 1e6:.1f}, D +{(cd - ca) / n_vec * 1e6:.1f}{read}")
    pa, pb = (statistics.median(sps[k]) for k in ("PA", "PB"))
    cpa, cpb = (statistics.median(cpu[k]) for k in ("PA", "PB"))
    print(f"policy rollout (TorchPPO's network acting, as a trainer's collection): PA without {pa:,.0f} steps/s | PB with it, "
          f"labels arriving {pb:,.0f} steps/s | ratio PB/PA {pb / pa:.3f} (target >= 0.9), CPU time {cpa / cpb:.3f} | "
          f"PA {cpa / n_vec * 1e6:.1f} us per vector step, PB +{(cpb - cpa) / n_vec * 1e6:.1f}")


if __name__ == "__main__":
    main()
