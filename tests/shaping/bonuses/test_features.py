import numpy as np
import pytest
import torch

from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping.bonuses import flatten, hash_rows, resolve_feature


def test_pos_reads_blstats_xy_for_nethack_style_obs():
    # spec C.5 / further cheap checks: the MiniHack position key is tuple(blstats[:2]).
    obs = {"blstats": np.array([[7, 3, 12, 1], [2, 9, 12, 1]]), "glyphs": np.zeros((2, 21, 79), np.int16)}
    assert resolve_feature("pos")(obs).tolist() == [[7, 3], [2, 9]]


def test_pos_falls_back_to_agent_pos_field():
    obs = {"agent_pos": np.array([[1, 2]]), "image": np.zeros((1, 7, 7, 3), np.uint8)}
    assert resolve_feature("pos")(obs).tolist() == [[1, 2]]


def test_pos_on_plain_array_names_the_fix():
    with pytest.raises(InvalidParameter, match="blstats.*agent_pos.*MiniGrid"):
        resolve_feature("pos")(np.zeros((2, 3)))


def test_field_key_and_did_you_mean():
    obs = {"agent_pos": np.array([[4, 5]])}
    assert resolve_feature("agent_pos")(obs).tolist() == [[4, 5]]
    with pytest.raises(InvalidParameter, match="Did you mean: `agent_pos`"):
        resolve_feature("agent_po")(obs)


def test_module_name_string_resolves_a_user_function():
    fn = resolve_feature("bonus_helpers:onehot")
    assert fn({"agent_pos": np.array([[2, 0]])}).argmax(1).tolist() == [2]
    with pytest.raises(ConfigError, match="cannot be imported"):
        resolve_feature("bonus_helpers:nope")


def test_flatten_concatenates_dict_fields_in_key_order():
    obs = {"b": np.array([[1, 2]], np.int16), "a": np.array([[[3], [4]]], np.uint8)}
    flat = flatten(obs)
    assert flat.tolist() == [[3, 4, 1, 2]] and flat.dtype == np.int16


def test_hash_rows_equal_rows_equal_keys_and_numpy_equals_torch():
    x = np.array([[1, 2, 3], [1, 2, 3], [3, 2, 1], [0, 0, 0]], dtype=np.int64)
    keys = hash_rows(x)
    assert keys[0] == keys[1] and len(set(keys)) == 3
    assert hash_rows(torch.as_tensor(x)) == keys
    floats = np.array([[0.5, 1.5]], np.float32)
    assert hash_rows(torch.as_tensor(floats)) == hash_rows(floats)


def test_hash_rows_handles_text_fields():
    # MiniGrid's `mission` is text; it is hashed with CRC-32 (stable across processes).
    obs = {"mission": np.array(["go to the key", "go to the key", "open the door"]), "dir": np.array([0, 0, 0])}
    keys = hash_rows(obs)
    assert keys[0] == keys[1] != keys[2]
