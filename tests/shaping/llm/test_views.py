"""Tests of rewardlab.shaping.llm.views: fields, read-only views, info, descriptors and their JSON round trip.

Expected values are the hand-written observations below (each field reads a known element), the
contract in /work/helpers/CONTRACTS.md (read-only views, missing info keys -> 0.0, generic x0..x{n-1})
and numpy's documented read-only semantics (writing to a non-writeable array raises ValueError).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rewardlab.errors import ConfigError
from rewardlab.shaping.llm import views
from rewardlab.shaping.llm.views import (
    EnvDescriptor,
    check_descriptor,
    Field,
    descriptor_for,
    generic_descriptor,
    make_action,
    make_info,
    make_view,
    register_descriptor,
)

VIEWS_PATH = Path(views.__file__)


def _box_desc(**kw) -> EnvDescriptor:
    return EnvDescriptor(
        env_id="test/Box-v0",
        summary="A point.",
        fields=(
            Field("x", "position", unit="m", low=-1.0, high=1.0, index=0),
            Field("v", "velocity", unit="m/s", index=1),
            Field("cell", "cell index", kind="int", index=2),
            Field("pair", "x and v", kind="array", index=(0, 1)),
            Field("square", "the four values as 2x2", kind="array", index=(0, 1, 2, 3), shape=(2, 2)),
        ),
        action="an int",
        action_kind="discrete",
        info=(("is_success", "1.0 at the goal"), ("payoff_1", "agent 1's payoff")),
        success="x >= 1",
        example="def compute_reward(obs, action, next_obs, info):\n    return 0.0\n",
        **kw,
    )


def _dict_desc() -> EnvDescriptor:
    return EnvDescriptor(
        env_id="test/Dict-v0",
        summary="A grid.",
        fields=(
            Field("row", "row", key="blstats", index=1, kind="int"),
            Field("col", "col", key="blstats", index=0, kind="int"),
            Field("crop", "crop", key="crop", kind="array"),
            Field("message", "text", key="message", kind="text"),
        ),
        action="an int",
        action_kind="discrete",
        info=(("is_success", "success"),),
        success="stairs",
        example="",
        obs_keys=("blstats", "crop", "message"),
    )


def _message(text: str, size: int = 16) -> np.ndarray:
    out = np.zeros(size, dtype=np.uint8)
    out[: len(text)] = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return out


# --- values -----------------------------------------------------------------------------------------
def test_box_view_reads_each_field_from_its_index():
    obs = np.array([0.25, -0.5, 3.0, 7.0], dtype=np.float32)
    view = make_view(_box_desc(), obs)
    # Each expected value is the element the field's index names (0.25, -0.5 and 3 are exact in float32).
    assert (view.x, view.v, view.cell) == (0.25, -0.5, 3)
    assert type(view.x) is float and type(view.cell) is int
    np.testing.assert_array_equal(view.pair, [0.25, -0.5])
    np.testing.assert_array_equal(view.square, [[0.25, -0.5], [3.0, 7.0]])
    np.testing.assert_array_equal(np.asarray(view), obs)
    assert np.asarray(view).dtype == np.float32
    assert view.fields == ("x", "v", "cell", "pair", "square")
    assert view[1] == np.float32(-0.5) and len(view) == 4


def test_dict_view_reads_keys_and_decodes_text():
    obs = {"blstats": np.array([25, 12, 9], dtype=np.int64), "crop": np.arange(9, dtype=np.int16).reshape(3, 3),
           "message": _message("f - a key.")}
    view = make_view(_dict_desc(), obs)
    # blstats is (x, y, ...): row = blstats[1] = 12, col = blstats[0] = 25; trailing NULs are stripped.
    assert (view.row, view.col, view.message) == (12, 25, "f - a key.")
    assert view.crop.shape == (3, 3) and int(view.crop[2, 2]) == 8
    np.testing.assert_array_equal(np.asarray(view), obs["blstats"])  # the first key's array
    assert sorted(view.raw) == ["blstats", "crop", "message"]
    assert view["crop"][0, 1] == 1


def test_view_is_a_copy_of_the_observation():
    obs = np.array([0.25, -0.5, 3.0, 7.0])
    view = make_view(_box_desc(), obs)
    obs[:] = 99.0  # the env reusing its buffer must not change what the reward code saw
    assert view.x == 0.25 and float(np.asarray(view)[0]) == 0.25 and float(view.pair[0]) == 0.25


# --- read-only ------------------------------------------------------------------------------------
def test_setting_or_deleting_an_attribute_raises():
    view = make_view(_box_desc(), np.zeros(4))
    with pytest.raises(AttributeError, match="read-only"):
        view.x = 1.0
    with pytest.raises(AttributeError, match="read-only"):
        view.new_name = 1.0
    with pytest.raises(AttributeError, match="read-only"):
        del view.x
    assert view.x == 0.0


@pytest.mark.parametrize("get", [lambda v: np.asarray(v), lambda v: v.pair, lambda v: v.square, lambda v: v.raw])
def test_arrays_are_read_only_and_cannot_be_made_writeable(get):
    view = make_view(_box_desc(), np.zeros(4))
    a = get(view)
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 1.0
    # The memory belongs to an immutable bytes object, so the flag cannot be turned back on.
    with pytest.raises(ValueError):
        a.setflags(write=True)


def test_dict_raw_mapping_is_read_only():
    obs = {"blstats": np.zeros(3, np.int64), "crop": np.zeros((3, 3), np.int16), "message": _message("")}
    view = make_view(_dict_desc(), obs)
    with pytest.raises(TypeError):
        view.raw["crop"] = np.ones((3, 3))
    with pytest.raises(ValueError, match="read-only"):
        view.raw["blstats"][0] = 1


def test_asarray_with_copy_or_dtype_gives_a_separate_array():
    view = make_view(_box_desc(), np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32))
    b = np.array(view, dtype=np.float64)  # a converted copy may be written; the view's own stays intact
    b[0] = 5.0
    assert float(np.asarray(view)[0]) == 1.0


def test_unknown_field_names_the_fields():
    view = make_view(_box_desc(), np.zeros(4))
    with pytest.raises(AttributeError, match="Did you mean: `cell`"):
        view.cel


# --- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "2x"}, "identifier"),
        ({"name": "class"}, "identifier"),
        ({"name": "_hidden"}, "reserved"),
        ({"name": "raw"}, "reserved"),
        ({"kind": "image"}, "kind"),
        ({"index": (0, 1)}, "must be an int"),
        ({"index": 1.5}, "index"),
        ({"kind": "array", "index": (0, 1, 2), "shape": (2, 2)}, "does not hold"),
        ({"shape": (2,)}, "array fields only"),
    ],
)
def test_bad_fields_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Field(**{"name": "x", "doc": "d", **kwargs})


def test_descriptor_checks_keys_and_duplicates():
    with pytest.raises(ConfigError, match="duplicate"):
        EnvDescriptor("e", "s", (Field("x", "a", index=0), Field("x", "b", index=1)), "a", "box", (), "s", "")
    with pytest.raises(ConfigError, match="obs_keys"):
        EnvDescriptor("e", "s", (Field("x", "a", key="k", index=0),), "a", "box", (), "s", "")
    with pytest.raises(ConfigError, match="action_kind"):
        EnvDescriptor("e", "s", (), "a", "multi", (), "s", "")


def test_make_view_rejects_the_wrong_observation():
    with pytest.raises(ConfigError, match="mapping"):
        make_view(_box_desc(), {"a": np.zeros(4)})
    with pytest.raises(ConfigError, match="Dict observation"):
        make_view(_dict_desc(), np.zeros(4))
    with pytest.raises(ConfigError, match="lacks keys"):
        make_view(_dict_desc(), {"blstats": np.zeros(3)})
    with pytest.raises(ConfigError, match="field `cell`"):
        make_view(_box_desc(), np.zeros(2))  # index 2 is outside a 2-element observation


# --- info and action ---------------------------------------------------------------------------------
def test_make_info_holds_exactly_the_descriptor_keys():
    info = make_info(_box_desc(), {"is_success": True, "payoff": np.array([3.0, 4.5]), "dense_reward": -1.0})
    # is_success: bool True -> 1.0; payoff_1: element 1 of info["payoff"]; dense_reward is not a descriptor key.
    assert dict(info) == {"is_success": 1.0, "payoff_1": 4.5}
    assert all(type(v) is float for v in info.values())
    with pytest.raises(TypeError):
        info["is_success"] = 0.0
    assert dict(make_info(_box_desc(), {})) == {"is_success": 0.0, "payoff_1": 0.0}  # missing -> 0.0
    assert dict(make_info(_box_desc(), {"is_success": np.array([True])}))["is_success"] == 1.0
    with pytest.raises(ConfigError, match="is_success"):
        make_info(_box_desc(), {"is_success": "yes"})


def test_make_action():
    desc = _box_desc()
    assert make_action(desc, np.int64(2)) == 2 and type(make_action(desc, np.array([2]))) is int
    box = generic_descriptor(None, gym.spaces.Box(-1, 1, (2,)), gym.spaces.Box(-1, 1, (2,)))
    a = make_action(box, np.array([0.5, -1.0], dtype=np.float32))
    assert a.dtype == np.float64 and a.tolist() == [0.5, -1.0]
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 0.0


# --- round trip ----------------------------------------------------------------------------------
@pytest.mark.parametrize("desc", [_box_desc(), _dict_desc()], ids=["box", "dict"])
def test_to_dict_round_trips_through_json(desc):
    d = desc.to_dict()
    assert EnvDescriptor.from_dict(d) == desc
    assert EnvDescriptor.from_dict(json.loads(json.dumps(d))) == desc


def test_from_dict_rejects_unknown_and_missing_keys():
    d = _box_desc().to_dict()
    with pytest.raises(ConfigError, match="Did you mean: `summary`"):
        EnvDescriptor.from_dict({**d, "sumary": "x"})
    with pytest.raises(ConfigError, match="unknown key `unit_s`"):
        EnvDescriptor.from_dict({**d, "fields": [{**d["fields"][0], "unit_s": "m"}]})
    with pytest.raises(ConfigError, match="incomplete"):
        EnvDescriptor.from_dict({k: v for k, v in d.items() if k != "success"})
    with pytest.raises(ConfigError, match="format"):
        EnvDescriptor.from_dict({**d, "format": 99})


def test_infinite_bounds_become_none_for_json():
    f = Field("x", "d", low=float("-inf"), high=2.0, index=0)
    assert (f.low, f.high, f.range_text()) == (None, 2.0, "[-inf, 2]")


# --- descriptor_for --------------------------------------------------------------------------------
def test_generic_box_descriptor_names_elements_with_bounds():
    space = gym.spaces.Box(np.array([-1.0, 0.0, -np.inf]), np.array([1.0, 5.0, np.inf]), dtype=np.float64)
    desc = descriptor_for("test/Unregistered-v0", space, gym.spaces.Discrete(3))
    assert [(f.name, f.index, f.low, f.high) for f in desc.fields] == [
        ("x0", 0, -1.0, 1.0), ("x1", 1, 0.0, 5.0), ("x2", 2, None, None)]
    assert desc.action_kind == "discrete" and desc.action == "a python int in {0, ..., 2}"
    view = make_view(desc, np.array([0.5, 2.0, -7.0]))
    assert (view.x0, view.x1, view.x2) == (0.5, 2.0, -7.0)


def test_generic_descriptor_for_large_box_discrete_and_dict():
    image = descriptor_for(None, gym.spaces.Box(0, 255, (7, 7, 3), np.uint8))
    assert [(f.name, f.kind) for f in image.fields] == [("x", "array")]
    assert make_view(image, np.ones((7, 7, 3), np.uint8)).x.shape == (7, 7, 3)
    disc = descriptor_for(None, gym.spaces.Discrete(5, start=1))
    assert [(f.name, f.kind, f.low, f.high) for f in disc.fields] == [("state", "int", 1.0, 5.0)]
    assert make_view(disc, np.int64(3)).state == 3
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (3, 3, 3), np.uint8), "direction": gym.spaces.Discrete(4)})
    d = descriptor_for(None, space)
    view = make_view(d, space.sample())
    assert d.obs_keys == ("direction", "image") and view.image.shape == (3, 3, 3) and 0 <= view.direction <= 3


def test_descriptor_for_unknown_id_without_space_names_the_id():
    with pytest.raises(ConfigError, match="`test/Nowhere-v0`"):
        descriptor_for("test/Nowhere-v0")
    with pytest.raises(ConfigError, match="Tuple"):
        descriptor_for(None, gym.spaces.Tuple((gym.spaces.Discrete(2),)))


def test_registered_factory_is_called_once_on_first_use():
    calls = []

    def factory():
        calls.append(1)
        return _box_desc()

    register_descriptor("test/Factory-v0", factory)
    assert calls == []  # lazy: registration builds nothing
    assert descriptor_for("test/Factory-v0") == _box_desc()
    assert descriptor_for("test/Factory-v0", gym.spaces.Box(-9, 9, (4,))) == _box_desc()  # registered, not generic
    assert calls == [1]
    with pytest.raises(ConfigError, match="EnvDescriptor or a factory"):
        register_descriptor("test/Bad-v0", 3)


def test_registered_descriptor_is_checked_against_a_given_space():
    register_descriptor("test/Checked-v0", _box_desc())
    # _box_desc reads indices 0..3: a 4-element Box fits, a 3-element one (index 3 outside) does not.
    assert descriptor_for("test/Checked-v0", gym.spaces.Box(-1, 1, (4,))) == _box_desc()
    with pytest.raises(ConfigError, match="field `square` reads index 3, but the observation has 3 elements"):
        descriptor_for("test/Checked-v0", gym.spaces.Box(-1, 1, (3,)))
    with pytest.raises(ConfigError, match="array observation, but the observation space is Dict"):
        check_descriptor(_box_desc(), gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (4,))}))
    space = gym.spaces.Dict({"blstats": gym.spaces.Box(0, 9, (3,), np.int64), "crop": gym.spaces.Box(0, 9, (3, 3))})
    with pytest.raises(ConfigError, match=r"reads keys \['message'\] that the observation space lacks"):
        check_descriptor(_dict_desc(), space)
    with pytest.raises(ConfigError, match="field `row` reads index 1, but the observation `blstats` has 1 elements"):
        check_descriptor(_dict_desc(), gym.spaces.Dict({**space.spaces, "blstats": gym.spaces.Box(0, 9, (1,), np.int64),
                                                       "message": gym.spaces.Box(0, 127, (16,), np.uint8)}))


def test_views_module_loads_without_rewardlab_or_gymnasium():
    # The sandbox worker loads views.py by path; nothing from rewardlab (whose __init__ imports every
    # env family) or gymnasium may be imported at module load.
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('views', {str(VIEWS_PATH)!r})\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['views'] = m; spec.loader.exec_module(m)\n"
        "import numpy as np\n"
        "d = m.EnvDescriptor.from_dict(" + repr(_box_desc().to_dict()) + ")\n"
        "v = m.make_view(d, np.array([0.25, -0.5, 3.0, 7.0]))\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('rewardlab', 'gymnasium', 'torch'))\n"
        "print(v.x, v.cell, bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "0.25 3 []"
