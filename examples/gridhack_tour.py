"""A tour of gridhack: a few levels of three tasks, rendered as tile images (PNG) and as NetHack text.

For each task it resets three contexts, writes ``<task>-<context>.png`` and ``.txt`` into ``--out``,
prints the first level's screen, then lets the oracle policy play that level and prints its last screen.

    python examples/gridhack_tour.py [--out DIR (default: $TMPDIR/gridhack_tour)] [--tasks ...]
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np

import rewardlab  # noqa: F401  (registers the envs)
from rewardlab.envs.gridhack import env_id
from rewardlab.envs.gridhack.oracle import OraclePolicy


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 image as PNG with the standard library only."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    path.write_bytes(png + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "gridhack_tour")
    p.add_argument("--tasks", nargs="+", default=["KeyRoom-S10", "MultiRoom-N6-LavaMonsters", "Freeze-Horn"])
    p.add_argument("--levels", type=int, default=3)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for task in args.tasks:
        images = gym.make(env_id(task), render_mode="rgb_array", num_contexts=args.levels)
        text = gym.make(env_id(task), render_mode="ansi", num_contexts=args.levels)
        seen = set()
        for seed in range(100):
            _, info = images.reset(seed=seed)
            text.reset(seed=seed)
            if info["context_id"] in seen:
                continue
            seen.add(info["context_id"])
            stem = args.out / f"{task}-{info['context_id']}"
            write_png(stem.with_suffix(".png"), images.render())
            stem.with_suffix(".txt").write_text(text.render())
            if len(seen) == args.levels:
                break
        print(f"== {task}: {len(seen)} levels written to {args.out}/ ==")
        obs, _ = text.reset(seed=0)
        print(text.render())
        policy, done, steps, info = OraclePolicy(task), False, 0, {}
        while not done:
            obs, reward, term, trunc, info = text.step(policy({k: v[None] for k, v in obs.items()})[0])
            done, steps = term or trunc, steps + 1
        print(text.render())
        print(f"oracle: success={info['is_success']} after {steps} steps\n")


if __name__ == "__main__":
    main()
