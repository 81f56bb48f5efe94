"""The ``rewardlab llm-serve`` subcommand: the scripted OpenAI-compatible server in the foreground.

``rewardlab/cli.py`` wires it in with :func:`add_llm_serve_parser`. The server answers from a script
of hand-written candidates (not a model) and listens on loopback only; it prints one line with its
URL, then serves until SIGINT or SIGTERM and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

__all__ = ["add_llm_serve_parser"]

BANNER = "rewardlab scripted LLM server (candidates are scripted, not written by a model): "


def add_llm_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``llm-serve [--script NAME|PATH] [--host 127.0.0.1] [--port 0] [--verbose]``."""
    p = subparsers.add_parser(
        "llm-serve",
        help="serve scripted reward-code answers on an OpenAI-compatible API on 127.0.0.1 (for tests and examples)",
        description="Start an OpenAI-compatible chat server on loopback whose answers come from a script of "
        "hand-written candidates (not from a model): /v1/models and /v1/chat/completions. Candidates are chosen "
        "by the request's seed; '#fault:429', '#fault:500', '#fault:slow=S', '#fault:malformed' in a message inject "
        "faults. Prints its URL, serves until SIGINT/SIGTERM.",
    )
    p.add_argument("--script", default="mountaincar", help="a shipped script name (default: mountaincar) or a path to a YAML script")
    p.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1; nothing else is served)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: a free one, printed)")
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    p.set_defaults(func=_serve)
    return p


def _serve(args: argparse.Namespace) -> int:
    from rewardlab.shaping.llm.server import ScriptedServer

    server = ScriptedServer(args.script, host=args.host, port=args.port, quiet=not args.verbose).start()
    stopping = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(BANNER + server.url, flush=True)
        print(f"script {server.script.name}: candidates {server.script.names()}", file=sys.stderr, flush=True)
        while not stopping.wait(0.5):  # a timed wait, so signals are handled promptly on every platform
            pass
    finally:
        server.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
