"""The `rewardlab` command line: `rewardlab envs`, `rewardlab ablate CONFIG`, `rewardlab report PATH`."""

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
        print(f"{env_id:<{width}}  {describe(env_id)}")
    if not ids:
        print("no registered rewardlab/ envs" + (f" match {args.filter!r}" if args.filter else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewardlab",
        description="Gymnasium/PettingZoo environments and composable reward shaping for reward-design research.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    envs = sub.add_parser("envs", help="list the registered rewardlab/ env ids with a one-line description")
    envs.add_argument("filter", nargs="?", help="only ids containing this text (case-insensitive)")
    envs.set_defaults(func=_cmd_envs)
    from rewardlab.cli_ablate import add_ablate_parser, add_report_parser

    add_ablate_parser(sub)
    add_report_parser(sub)
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
