"""``rewardlab llm-reward generate`` on the command line, and the layering rule of issue 14."""

from __future__ import annotations

import ast
from pathlib import Path

import rewardlab
from rewardlab.cli import main

ENV = "rewardlab/Sparse-MountainCar-v0"


def test_bad_setting_is_one_line_naming_it(tmp_path, capsys):
    # Bad input is a typed error printed as one line, exit status 2 (rewardlab/cli.py), before any request.
    code = main(["llm-reward", "generate", "--env", ENV, "--task", "reach the flag", "--out", str(tmp_path / "o"), "--candidates", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: `candidates` must be an integer >= 1. Received 0")
    assert not (tmp_path / "o" / "search.json").exists()


def test_script_needs_the_offline_backend(tmp_path, capsys):
    code = main(["llm-reward", "generate", "--env", ENV, "--task", "t", "--out", str(tmp_path / "o"), "--backend", "replay", "--script", "mountaincar"])
    assert code == 2 and "`script` is for the offline backend" in capsys.readouterr().err


def test_replay_of_nothing_fails_naming_the_cache_key(tmp_path, capsys):
    # An empty cache in replay mode: CacheMiss (a RewardlabError) names the key; no server is asked.
    code = main(["llm-reward", "generate", "--env", ENV, "--task", "t", "--out", str(tmp_path / "o"), "--backend", "replay", "--candidates", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "replay mode: no cached answer for key" in err


def test_shaping_llm_never_imports_search_ablation_or_baselines():
    # Issue 14: shaping/llm holds only what a term needs and never imports upper layers.
    root = Path(rewardlab.__file__).parent / "shaping" / "llm"
    upper = ("rewardlab.search", "rewardlab.ablation", "rewardlab.baselines")
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}: {n}" for n in names if n.startswith(upper)]
    assert len(list(root.glob("*.py"))) >= 5 and found == []
