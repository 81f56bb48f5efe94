"""info_column: one info key as floats, in the three layouts terms meet (Gymnasium vector, SB3, one env)."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.errors import InvalidParameter
from rewardlab.shaping.info import info_column


def test_the_three_layouts_give_the_same_column():
    # The same two steps written as a Gymnasium vector env, an SB3 VecEnv and two single envs would write them.
    vector = {"x": np.array([0.5, 2.0]), "_x": np.array([True, True])}
    sb3 = [{"x": 0.5}, {"x": 2.0}]
    assert info_column(vector, "x", 2).tolist() == info_column(sb3, "x", 2).tolist() == [0.5, 2.0]
    assert [info_column({"x": v}, "x", 1).tolist() for v in (0.5, 2.0)] == [[0.5], [2.0]]


def test_absent_masked_and_non_numbers_read_as_zero():
    assert info_column({"x": np.array([1.0, 2.0]), "_x": np.array([False, True])}, "x", 2).tolist() == [0.0, 2.0]
    assert info_column({}, "x", 3).tolist() == [0.0, 0.0, 0.0]
    assert info_column([{"x": "text"}, {"x": None}, {}], "x", 3).tolist() == [0.0, 0.0, 0.0]


def test_a_column_of_the_wrong_length_is_an_error_naming_the_key():
    with pytest.raises(InvalidParameter, match=r"info\['x'\] has shape \(3,\); expected one value per sub-env \(2\)"):
        info_column({"x": np.zeros(3)}, "x", 2)
    # Two values per sub-env, or one scalar for two sub-envs, are malformed too (no column is picked for them).
    with pytest.raises(InvalidParameter, match=r"info\['x'\] has shape \(2, 2\)"):
        info_column({"x": np.zeros((2, 2))}, "x", 2)
    with pytest.raises(InvalidParameter, match=r"info\['x'\] has shape \(\)"):
        info_column({"x": 1.0}, "x", 2)
