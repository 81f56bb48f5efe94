"""The ``rewardlab llm-reward generate`` subcommand: an LLM reward search from the command line.

``rewardlab/cli.py`` wires it in with :func:`add_llm_reward_parser`.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_llm_reward_parser"]


def add_llm_reward_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``llm-reward generate --env ID --task TEXT --out DIR [...]`` (see :func:`rewardlab.search.run_search`)."""
    from rewardlab.search.loop import BACKENDS, FEEDBACK
    from rewardlab.search.training import ALGOS, COMBINE

    p = subparsers.add_parser("llm-reward", help="write reward functions with an LLM and select them by training (Eureka-style)")
    sub = p.add_subparsers(dest="llm_reward_command", metavar="SUBCOMMAND")
    g = sub.add_parser(
        "generate",
        help="run the search: K candidates per round, gated, trained briefly, the best fed back",
        description="Each round samples K reward functions from the LLM, rejects unsafe or broken ones (static gate, "
        "sandboxed dry run), trains the rest briefly and scores them on the task's own metric (success rate, else "
        "task return); the best one and its training statistics go back to the LLM. Everything is written to --out: "
        "every candidate, the messages, search.json, best_reward.py and best_reward.yaml (an ablation config entry). "
        "Rerun the same command to resume a killed search.",
    )
    g.add_argument("--env", required=True, help="the Gymnasium id, e.g. rewardlab/Sparse-MountainCar-v0")
    g.add_argument("--task", required=True, help="the task in words, e.g. 'drive the car up to the flag'")
    g.add_argument("--out", required=True, help="the search folder (an existing search there is resumed)")
    g.add_argument("--candidates", type=int, default=4, help="K, samples per round (default 4)")
    g.add_argument("--rounds", type=int, default=2, help="R, rounds (default 2)")
    g.add_argument("--steps", type=int, default=30_000, help="env steps each candidate trains for (default 30000)")
    g.add_argument("--backend", choices=BACKENDS, default="offline",
                   help="offline: rewardlab's scripted server (scripted, not a model; default); replay: the cache only; "
                        "auto: cache, then server; live: a server (REWARDLAB_LLM_BASE_URL, REWARDLAB_LLM_MODEL, OPENAI_API_KEY)")  # fmt: skip
    g.add_argument("--script", default=None, help="offline only: the scripted server's script, a name or a .yaml path (default mountaincar)")
    g.add_argument("--model", default=None, help="the model name (default REWARDLAB_LLM_MODEL)")
    g.add_argument("--base-url", default=None, help="the server's .../v1 URL (default REWARDLAB_LLM_BASE_URL)")
    g.add_argument("--algo", choices=ALGOS, default="PPO", help="the trainer: SB3 PPO (default) or rewardlab's TorchPPO")
    g.add_argument("--feedback", choices=FEEDBACK, default="reflection", help="reflection (Eureka, default) or preference (ICPL)")
    g.add_argument("--combine", choices=COMBINE, default="add",
                   help="add: train on the env reward + the candidate (default); replace: the candidate alone (as Eureka)")
    g.add_argument("--workers", type=int, default=None, help="training runs at a time (default: the number of cores)")
    g.add_argument("--seed", type=int, default=0, help="training seed of every candidate and base of the LLM seeds (default 0)")
    g.add_argument("--hyperparams", type=_json_object, default=None,
                   help='the trainer\'s hyper-parameters as JSON, over the quickstart\'s (e.g. \'{"n_steps": 128}\')')
    g.add_argument("--n-envs", type=int, default=8, help="sub-envs per training run (default 8)")
    g.add_argument("--eval-episodes", type=int, default=5, help="evaluation episodes on the task reward (default 5)")
    g.add_argument("--eval-every", type=int, default=None, help="env steps between evaluations (default: steps / 4)")
    g.add_argument("--max-tokens", type=int, default=1024, help="max tokens per answer (default 1024)")
    g.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    g.add_argument("--max-repeats", type=int, default=2, help="how often a round whose candidates all failed is asked again (default 2)")
    g.set_defaults(func=_generate)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    return p


def _json_object(text: str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e}): {text!r}") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object such as '{{\"n_steps\": 128}}'; received {text!r}")
    return value


def _generate(args: argparse.Namespace) -> int:
    from rewardlab.search.loop import run_search

    result = run_search(
        args.env, args.task, out=args.out, candidates=args.candidates, rounds=args.rounds, steps=args.steps,
        backend=args.backend, script=args.script, algo=args.algo, feedback=args.feedback, workers=args.workers,
        seed=args.seed, combine=args.combine, max_repeats=args.max_repeats, model=args.model, base_url=args.base_url,
        temperature=args.temperature, max_tokens=args.max_tokens, n_envs=args.n_envs,
        eval_episodes=args.eval_episodes, eval_every=args.eval_every, hyperparams=args.hyperparams,
    )  # fmt: skip
    if result.best is None:
        print(f"No candidate executed (execute rates {result.execute_rates}); see {result.out}/round_*/cand_*/gate.json")
        return 1
    b = result.best
    print(f"Best: round {b.round} candidate {b.index}, {b.metric} {b.fitness:.4g} (execute rates {result.execute_rates})")
    print(f"Code: {result.out}/best_reward.py   Ablation entry: {result.out}/best_reward.yaml")
    return 0
