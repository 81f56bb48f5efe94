"""Smoke run of examples/coopetition_modes.py: it prints every mode and policy, and its numbers agree."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

EXAMPLE = pathlib.Path(__file__).resolve().parents[3] / "examples" / "coopetition_modes.py"


def test_example_runs_and_payoffs_do_not_depend_on_mode(capsys):
    spec = importlib.util.spec_from_file_location("coopetition_modes", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main("SLCD")
    out = capsys.readouterr().out
    assert out.count("reward_mode=") == 3 and out.count("best constant") == 3
    # the material payoff of one policy is identical in every mode (reward modes change rewards only)
    levels = np.array([23.3, 22.5])
    payoffs = [module.play("SLCD", mode, levels)[1] for mode in ("private", "integrated", "cooperative")]
    assert np.array_equal(payoffs[0], payoffs[1]) and np.array_equal(payoffs[0], payoffs[2])
