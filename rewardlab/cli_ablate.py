"""The ``rewardlab ablate`` and ``rewardlab report`` subcommands.

``rewardlab/cli.py`` wires them in with :func:`add_ablate_parser` and :func:`add_report_parser`;
each sets ``func`` on its parser to a ``(args) -> int`` handler.
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
        "then write report.html and print the final-performance table.",
    )
    p.add_argument("config", help="the ablation config (YAML)")
    p.add_argument("--out", default=None, help="sweep folder (default: runs/<config name>)")
    p.add_argument("--backend", choices=["local", "ray"], default="local", help="local process pool (default) or a Ray cluster (RAY_ADDRESS)")
    p.add_argument("--workers", type=int, default=None, help="runs at a time (default: the number of cores)")
    p.add_argument("--retry-failed", action="store_true", help="run again the runs recorded as failed")
    p.add_argument("--no-report", action="store_true", help="skip writing report.html")
    p.set_defaults(func=_ablate)
    return p


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report PATH``: write PATH/report.html and print the table."""
    p = subparsers.add_parser("report", help="write report.html for a sweep folder and print its table")
    p.add_argument("path", help="the sweep folder (the one holding runs/)")
    p.set_defaults(func=_report)
    return p


def _ablate(args: argparse.Namespace) -> int:
    from rewardlab.ablation import ablate

    counts = ablate(args.config, args.out, args.backend, args.workers, args.retry_failed, report=not args.no_report)
    return 1 if counts["failed"] else 0


def _report(args: argparse.Namespace) -> int:
    from rewardlab.ablation import write_report

    page, shown = write_report(args.path)
    if shown is not None:
        print(shown.to_string(index=False))
    print(f"Report: {page}")
    return 0
