"""The ``rewardlab distance CONFIG`` subcommand: STARC/EPIC distances between an ablation config's reward specs.

``rewardlab/cli.py`` wires it in with :func:`add_distance_parser`. Exit status: 0 (envs without a
table are listed with the reason), 2 for a bad config (one ``error:`` line).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_distance_parser"]


def add_distance_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``distance CONFIG.yaml [--json PATH] [--digits N]``."""
    p = subparsers.add_parser(
        "distance",
        help="print the STARC and EPIC distances between a config's reward specs on its tabular envs",
        description="For each env of CONFIG with an exact table (FrozenLake, CliffWalking, Taxi, small MiniGrid "
        "levels), evaluate every reward spec into an (S, A, S') table and print the matrix of STARC distances "
        "(VAL canonicalization, L2, in [0, 1]: 0 = same policy ordering, 1 = opposite) and EPIC distances, at the "
        "first algorithm's discount. Nothing is trained. Envs without a table are listed with the reason.",
    )
    p.add_argument("config", help="the ablation config (YAML)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the matrices as JSON to PATH")
    p.add_argument("--digits", type=int, default=3, help="decimals printed (default 3)")
    p.set_defaults(func=_distance)
    return p


def _distance(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rewardlab.ablation.config import load_config
    from rewardlab.ablation.distances import distance_matrices, format_matrix

    matrices = distance_matrices(load_config(args.config))
    print("\n\n".join(format_matrix(m, args.digits) for m in matrices))
    if args.json:
        rows = [
            {"env": m.env, "env_id": m.env_id, "rewards": m.rewards, "gamma": m.gamma, "reason": m.reason, "notes": m.notes,
             "starc": None if m.starc is None else m.starc.tolist(), "epic": None if m.epic is None else m.epic.tolist()}
            for m in matrices
        ]
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0
