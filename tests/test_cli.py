"""The `rewardlab` console entry: help, and `rewardlab envs` listing every registered id."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym

import rewardlab  # noqa: F401


def rewardlab_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rewardlab", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_the_commands():
    out = rewardlab_cli("--help")
    assert out.returncode == 0
    for command in ("envs", "ablate", "report"):
        assert command in out.stdout


def test_envs_lists_every_registered_id_with_a_description():
    ids = sorted(i for i in gym.registry if i.startswith("rewardlab/"))
    # 11 sparse control tasks x (Sparse, Dense), 20 coopetition games, 21 gridhack tasks, BonusGrid, SubgoalChain.
    assert len(ids) == 22 + 20 + 21 + 2
    lines = rewardlab_cli("envs").stdout.splitlines()
    assert [line.split()[0] for line in lines] == ids
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # every id has a description
    filtered = rewardlab_cli("envs", "gridhack-keyroom").stdout.splitlines()
    assert len(filtered) == 1 and filtered[0].startswith("rewardlab/Gridhack-KeyRoom-S10-v0")


def test_bad_config_is_one_error_line_not_a_traceback(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("name: bad\nseeds: 1\nrewards: {sparse: EnvReward}\nalgorithms: [PPO]\nenvs: [MountainCar-v0]\nbudgett: {}\n")
    out = rewardlab_cli("ablate", str(config), "--out", str(tmp_path / "out"))
    assert out.returncode == 2
    assert "budgett" in out.stderr and "Traceback" not in out.stderr
