"""The `rewardlab` command line: `rewardlab envs [--potentials]`, `ablate CONFIG`, `report PATH`, `config-reference`,
`export SWEEP --csv DIR`, `distance CONFIG`, `llm-serve`, `llm-reward generate`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rewardlab.errors import RewardlabError

__all__ = ["main", "build_parser"]


def _cmd_envs(args: argparse.Namespace) -> int:
    from rewardlab.envs import describe, list_ids

    ids = list_ids()
    if args.filter:
        ids = [i for i in ids if args.filter.lower() in i.lower()]
    width = max((len(i) for i in ids), default=0)
    for env_id in ids:
        if args.potentials:
            print(f"{env_id:<{width}}  {_potentials_line(env_id)}")
        else:
            print(f"{env_id:<{width}}  {describe(env_id)}")
    if not ids:
        print("no registered rewardlab/ envs" + (f" match {args.filter!r}" if args.filter else ""))
    return 0


def _potentials_line(env_id: str) -> str:
    """The env's named potentials (what `PBRS("<name>", ...)` can bind to), each with its summary."""
    from rewardlab.shaping.potentials import potentials_for

    named = potentials_for(env_id)
    if not named:
        return "(no named potentials)"
    parts = []
    for name in sorted(named):
        doc = (getattr(named[name], "__doc__", None) or "").strip().splitlines()
        parts.append(f"{name}" + (f" ({doc[0].rstrip('.')})" if doc else ""))
    return "; ".join(parts)


def _cmd_config_reference(args: argparse.Namespace) -> int:
    from rewardlab.ablation.config import reference

    sys.stdout.write(reference())
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from rewardlab.ablation.export import export_csv

    done = export_csv(args.sweep, args.csv)
    left = ", ".join(f"{n} {what}" for what, n in done["left_out"].items() if n)
    print(f"Exported {done['runs']} completed runs to {args.csv}: {', '.join(sorted(done['files']))}"
          + (f" (left out: {left})" if left else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewardlab",
        description="Gymnasium/PettingZoo environments and composable reward shaping for reward-design research.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    envs = sub.add_parser("envs", help="list the registered rewardlab/ env ids with a one-line description")
    envs.add_argument("filter", nargs="?", help="only ids containing this text (case-insensitive)")
    envs.add_argument("--potentials", action="store_true",
                      help="list each env's named potentials (for PBRS) instead of its description")
    envs.set_defaults(func=_cmd_envs)
    ref = sub.add_parser("config-reference", help="print the ablation config reference (docs/config.md)")
    ref.set_defaults(func=_cmd_config_reference)
    export = sub.add_parser("export", help="write a sweep's curves, episodes and learner logs as CSV files",
                            description="Write curves.csv, episodes.csv and learner_log.csv of the completed runs of "
                            "SWEEP's current config (as the report selects them: stale, failed and corrupt records are "
                            "left out) into DIR.")
    export.add_argument("sweep", help="the sweep folder (the one holding config.yaml and runs/)")
    export.add_argument("--csv", required=True, metavar="DIR", help="the folder to write the CSV files into")
    export.set_defaults(func=_cmd_export)
    from rewardlab.cli_ablate import add_ablate_parser, add_report_parser
    from rewardlab.cli_distance import add_distance_parser
    from rewardlab.cli_llm import add_llm_serve_parser
    from rewardlab.search.cli import add_llm_reward_parser

    add_ablate_parser(sub)
    add_report_parser(sub)
    add_distance_parser(sub)
    add_llm_serve_parser(sub)
    add_llm_reward_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except RewardlabError as e:  # bad input: one line naming the problem, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
