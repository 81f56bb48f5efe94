"""Gate 1 (static, no execution): spec checks H1-H3 and the rules of gates.py, each with its rule id."""

from __future__ import annotations

import pytest
from sandbox_helpers import GOOD, HEADER, body, child_pids

from rewardlab.errors import RewardCodeRejected
from rewardlab.shaping.llm.gates import LIMITS, extract_code, static_check, strip_imports
from rewardlab.shaping.llm.reward import LLMReward


def rule_of(source: str, **kw) -> str:
    with pytest.raises(RewardCodeRejected) as e:
        static_check(source, **kw)
    assert e.value.gate == "static"
    assert e.value.hint, "every rejection carries a hint the LLM can act on"
    return e.value.rule


# H1: the spec's five forbidden constructs and their rule ids (llm_and_bilevel.md H1). Each program
# would create the canary file if any of it ran.
H1 = [
    ("import os\n" + body("os.system('touch {canary}')", "return 0.0"), "import:os"),
    (body("__import__('os').system('touch {canary}')", "return 0.0"), "name:__import__"),
    (body("open('{canary}', 'w').write('x')", "return 0.0"), "name:open"),
    (body("eval(\"open('{canary}', 'w')\")", "return 0.0"), "name:eval"),
    (body("().__class__.__base__.__subclasses__()", "open('{canary}', 'w')", "return 0.0"), "attr:dunder"),
]


@pytest.mark.parametrize("template, rule", H1, ids=[r for _, r in H1])
def test_h1_forbidden_constructs_rejected_with_zero_executions(template, rule, tmp_path):
    canary = tmp_path / "canary"
    source = template.format(canary=canary)
    before = child_pids()
    assert rule_of(source) == rule
    # The term runs gate 1 before anything else: construction fails, no worker process is started.
    with pytest.raises(RewardCodeRejected) as e:
        LLMReward(source, cwd=str(tmp_path))
    assert e.value.rule == rule
    assert child_pids() == before
    assert not canary.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("signature", ["(obs, action)", "(*args)", "(obs, action, next_obs, info=None)",
                                       "(obs, action, next_obs, info, extra)", "(obs, action, next_obs, **info)",
                                       "(obs, action, next_obs, *, info)", "(info, obs, action, next_obs)"])
def test_h2_wrong_signatures_rejected(signature):
    # H2: only the exact positional (obs, action, next_obs, info) is accepted.
    assert rule_of(f"def compute_reward{signature}:\n    return 0.0\n") == "signature"


def test_h2_canonical_function_passes_and_missing_function_is_named():
    assert static_check(GOOD).body  # the canonical 4-argument numpy-only function
    assert rule_of("def reward(obs, action, next_obs, info):\n    return 0.0\n") == "signature"
    assert rule_of(HEADER + "    return 0.0\n" + HEADER + "    return 1.0\n") == "signature"


def test_h3_while_rejected_unless_the_test_only_switch_is_on():
    source = body("while True:", "    pass", "return 0.0")
    assert rule_of(source) == "stmt:While"
    static_check(source, allow_while=True)  # the switch H4's runtime test uses


@pytest.mark.parametrize("source, rule", [
    ("class A:\n    pass\n" + HEADER + "    return 0.0\n", "stmt:ClassDef"),
    (body("global x", "return 0.0"), "stmt:Global"),
    (body("def f():", "    nonlocal y", "return 0.0"), "stmt:Nonlocal"),
    (body("try:", "    x = 1", "except Exception:", "    pass", "return 0.0"), "stmt:Try"),
    (body("with np.errstate(all='ignore'):", "    pass", "return 0.0"), "stmt:With"),
    (body("yield 1"), "stmt:Yield"),
    ("async def compute_reward(obs, action, next_obs, info):\n    return 0.0\n", "stmt:AsyncFunctionDef"),
    ("def deco(f):\n    return f\n@deco\ndef compute_reward(obs, action, next_obs, info):\n    return 0.0\n", "stmt:Decorator"),
    ("SCALE = 2.0\n" + HEADER + "    return SCALE\n", "stmt:Assign"),
    ("from numpy import tanh\n" + HEADER + "    return 0.0\n", "import:from"),
    ("import numpy as npy\n" + HEADER + "    return 0.0\n", "import:numpy"),
    ("import subprocess\n" + HEADER + "    return 0.0\n", "import:subprocess"),
    (body("import math", "return 0.0"), "stmt:Import"),
    (body("import os", "return 0.0"), "import:os"),
    (body("return getattr(obs, 'position')"), "name:getattr"),
    (body("return float(type(obs))"), "name:type"),
    (body("print(obs)", "return 0.0"), "name:print"),
    (body("return vars(obs)"), "name:vars"),
    (body("np = 1", "return 0.0"), "name:np"),
    (body("return obs._values"), "attr:dunder"),
    (body("return '{0.__class__}'.format(obs)"), "attr:dunder"),
    (body("return f'{obs.__class__}'"), "attr:dunder"),
    (body("s = '{0[_x]}'", "return 0.0"), "attr:dunder"),
    (body("s = 'a' + '{}'", "return s.format(obs)"), "attr:format"),
    (body("np.save('x.npy', np.asarray(obs))", "return 0.0"), "attr:np.save"),
    (body("return float(np.load('x.npy'))"), "attr:np.load"),
    (body("np.asarray(obs).tofile('x')", "return 0.0"), "attr:tofile"),
    (body("return np.random.rand()"), "attr:np.random"),
    (body("return np.linalg.tensorsolve(1, 1)"), "attr:np.linalg.tensorsolve"),
    (body("g = (i for i in [1])", "return g.gi_frame"), "attr:gi_frame"),
    (body("np.asarray(obs).setflags(write=True)", "return 0.0"), "attr:setflags"),
    (body("return float(np.zeros(10**10).sum())"), "literal:size"),
    (body("return float(np.zeros(100000 * 100000).sum())"), "literal:size"),
    (body("return float(np.zeros(20000000).sum())"), "literal:size"),
    (body("return len([0] * 10**7)"), "literal:size"),
    (body("return len('a' * 2000000)"), "literal:size"),
    (body("return sum(range(200000))"), "literal:size"),
    (body("return 2 ** 10000"), "literal:size"),
])
def test_static_rules(source, rule):
    assert rule_of(source) == rule


def test_allowed_program_shapes_pass():
    # Helpers, lambdas, comprehensions, small loops, np/math, a builtin name reused as a variable.
    source = (
        '"""A docstring."""\n'
        "import numpy as np\nimport math\nimport numpy\n"
        "def _clip(x, lo=-1.0, hi=1.0):\n    return max(lo, min(hi, x))\n"
        + HEADER +
        "    next = sorted([obs.position, next_obs.position], key=lambda v: -v)\n"
        "    total = sum(x * x for x in next) + sum([i for i in range(10)])\n"
        "    for i in range(3):\n        total += numpy.tanh(i) + math.pi\n"
        "    return _clip(total) + float(np.linalg.norm(np.asarray(obs))), {'x': '{:.2f}'.format(total) and 1.0}\n"
    )
    tree = static_check(source)
    stripped = strip_imports(source, tree)
    assert stripped.splitlines()[1:4] == ["", "", ""]  # import lines blanked, so line numbers stay
    assert stripped.splitlines()[5] == source.splitlines()[5]


def test_syntax_error_has_line_and_column():
    with pytest.raises(RewardCodeRejected) as e:
        static_check(HEADER + "    return (1 +\n")
    assert (e.value.rule, e.value.line) == ("syntax", 3)
    assert "column" in e.value.detail


def test_size_limits():
    # D4.1: over 20 kB or over 400 lines is rejected before parsing.
    long = HEADER + "".join(f"    x{i} = {i}\n" for i in range(LIMITS["max_lines"])) + "    return 0.0\n"
    assert rule_of(long) == "size"
    assert rule_of(HEADER + "    # " + "x" * LIMITS["max_bytes"] + "\n    return 0.0\n") == "size"


def test_error_message_names_gate_rule_line_and_hint():
    with pytest.raises(RewardCodeRejected) as e:
        static_check(body("x = 1", "while x:", "    x = 0", "return 0.0"))
    assert str(e.value).startswith("[static:stmt:While] at line 4:")
    assert "Hint: use `for i in range(n):`" in str(e.value)


def test_extract_code_prefers_python_block_then_any_block_then_raw_text():
    py = "```python\ndef compute_reward(obs, action, next_obs, info):\n    return 1.0\n```"
    other = "```\ndef compute_reward(obs, action, next_obs, info):\n    return 2.0\n```"
    assert extract_code(f"Plan:\n{other}\nBetter:\n{py}\n") == py.split("\n", 1)[1].rsplit("```", 1)[0]
    assert "return 2.0" in extract_code(f"Here:\n{other}")
    raw = "def compute_reward(obs, action, next_obs, info):\n    return 3.0\n"
    assert extract_code(raw) == raw
    assert "return 4.0" in extract_code("```py\ndef compute_reward(obs, action, next_obs, info):\n    return 4.0\n")  # unclosed fence
    with pytest.raises(RewardCodeRejected) as e:
        extract_code("I cannot help with that.")
    assert (e.value.gate, e.value.rule) == ("static", "extract")
