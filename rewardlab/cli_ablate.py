"""The ``rewardlab ablate`` and ``rewardlab report`` subcommands.

``rewardlab/cli.py`` wires them in with :func:`add_ablate_parser` and :func:`add_report_parser`;
each sets ``func`` on its parser to a ``(args) -> int`` handler.

Exit status of ``ablate``: 0 when every run of the config has a completed record, 1 while any has
a failed one (this time or kept from an earlier sweep; ``--retry-failed`` runs them again), 2 for
bad input or an unusable store (one ``error:`` line). ``report``: 0, or 2 when PATH is not a
sweep folder or cannot be written.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_ablate_parser", "add_report_parser"]


def add_ablate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``ablate CONFIG.yaml [--out DIR] [--backend local|ray] [--workers N] [--retry-failed] [--no-report]``."""
    p = subparsers.add_parser(
        "ablate",
        help="run a reward ablation grid from a YAML config and write its report",
        description="Run every (env, reward spec, algorithm, seed) of CONFIG, skipping runs already in the store, "
        "then write report.html and print the final-performance table. Records of another config or rewardlab "
        "version in the folder are left out (--clean moves them aside). Exit status: 0 all runs completed, "
        "1 some runs failed (--retry-failed runs them again), 2 bad input or an unusable store.",
    )
    p.add_argument("config", help="the ablation config (YAML)")
    p.add_argument("--out", default=None, help="sweep folder (default: runs/<config name>)")
    p.add_argument("--backend", choices=["local", "ray"], default="local", help="local process pool (default) or a Ray cluster (RAY_ADDRESS)")
    p.add_argument("--workers", type=int, default=None, help="runs at a time (default: the number of cores)")
    p.add_argument("--retry-failed", action="store_true", help="run again the runs recorded as failed")
    p.add_argument("--clean", action="store_true",
                   help="move stale records (of another config or rewardlab version) from runs/ into stale/ (moved, not deleted)")
    p.add_argument("--ray-timeout", type=float, default=None, metavar="SECONDS",
                   help="give up on an unreachable RAY_ADDRESS after this long (default: $REWARDLAB_RAY_TIMEOUT or 60)")
    p.add_argument("--no-report", action="store_true", help="skip writing report.html")
    p.set_defaults(func=_ablate)
    return p


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report PATH``: write PATH/report.html and print the table."""
    p = subparsers.add_parser("report", help="write report.html for a sweep folder and print its table",
                              description="Write PATH/report.html from the records of the runs in PATH/config.yaml "
                              "(stale and corrupt records are named and left out) and print the table.")
    p.add_argument("path", help="the sweep folder (the one holding config.yaml and runs/)")
    p.set_defaults(func=_report)
    return p


def _ablate(args: argparse.Namespace) -> int:
    from rewardlab.ablation import ablate

    counts = ablate(args.config, args.out, args.backend, args.workers, args.retry_failed, report=not args.no_report,
                    clean=args.clean, ray_timeout=args.ray_timeout)  # fmt: skip
    return 1 if counts["failed_total"] else 0


def _report(args: argparse.Namespace) -> int:
    import sys

    from rewardlab.ablation import sweep_status, write_report

    print(sweep_status(args.path).summary(), file=sys.stderr)
    page, shown = write_report(args.path)
    if shown is not None:
        print(shown.to_string(index=False))
    print(f"Report: {page}")
    return 0
