"""Gate 1 for LLM-written reward code: extraction and a static AST allow-list (nothing is executed).

Functions: :func:`extract_code` (the code block of an LLM answer), :func:`static_check` (gate 1),
:func:`strip_imports` (the checked source with its allowed import lines blanked, as the sandbox
worker runs it). Constants: :data:`ALLOWED_BUILTINS`, :data:`NUMPY_ALLOWED`, :data:`LIMITS`.

The allow-list is cheap (well under a millisecond), precise for imports, names, attributes and
statement types, and gives feedback an LLM can act on. It is not the security boundary: the code
only ever runs in the sandboxed worker (:mod:`rewardlab.shaping.llm.sandbox`), which bounds time,
memory, files and network whatever slips through here.

Decisions (each rule id below is what :class:`~rewardlab.errors.RewardCodeRejected` carries):

* ``try``/``except`` is rejected (``stmt:Try``): a bare ``except`` would swallow the worker's
  ``MemoryError``/``RecursionError`` and hide from the dry run the very faults it must see;
  the runtime guard already turns an exception into a fallback reward.
* ``lambda`` and comprehensions are allowed: they create no new capability.
* ``for`` may iterate over anything; ``range(...)`` with literal bounds above 1e5 is rejected
  (``literal:size``). No static rule can prove termination (nested or data-dependent loops): the
  worker's wall clock is the bound.
* Integer literals must satisfy |x| <= 1e7, constant integer expressions (``10**10``,
  ``100000*100000``) are folded and held to the same bound, and sequence repetition by a constant
  (``[0]*n``, ``"a"*n``) may make at most 1e6 elements; computed sizes are bounded by ``RLIMIT_AS``.
* Attributes that reach interpreter internals without an underscore (frames and code objects of
  generators and tracebacks: ``gi_frame``, ``f_globals``, ...), array file I/O (``tofile``,
  ``dump``), and ways to make a read-only input writable (``setflags``, ``flags``) are rejected
  as ``attr:<name>``.
"""

from __future__ import annotations

import ast
import re
import string
from typing import Any

from rewardlab.errors import RewardCodeRejected

__all__ = ["extract_code", "static_check", "strip_imports", "ALLOWED_BUILTINS", "NUMPY_ALLOWED", "LIMITS"]

#: Size and literal bounds of gate 1.
LIMITS: dict[str, int] = {
    "max_bytes": 20_000,
    "max_lines": 400,
    "max_int": 10_000_000,
    "max_range": 100_000,
    "max_repeat": 1_000_000,
}

SIGNATURE = ("obs", "action", "next_obs", "info")

#: Builtins the generated code may call (the worker's ``__builtins__`` holds exactly these).
ALLOWED_BUILTINS = frozenset(
    "abs min max sum len range float int bool round enumerate zip isinstance dict list tuple pow any all sorted".split()
)

# Names rejected with a specific message (the spec's list plus their relatives).
_FORBIDDEN_NAMES = frozenset(
    "exec eval compile open __import__ getattr setattr delattr hasattr globals locals vars dir type object super input "
    "breakpoint exit quit help memoryview bytearray bytes id hash print classmethod staticmethod property "
    "__builtins__ __loader__ __spec__ __name__ __file__ __build_class__ __debug__ iter next reversed format repr "
    "chr ord ascii set frozenset slice issubclass callable map filter copyright credits license".split()
)

# The spec's list (D4.5): rejected even when the code binds the name itself.
_ALWAYS_FORBIDDEN = frozenset(
    "exec eval compile open __import__ getattr setattr delattr globals locals vars type object super input breakpoint exit".split()
)

_ALLOWED_IMPORTS = {"numpy": "np", "math": "math"}  # module -> the only alias accepted besides none
_NUMPY_NAMES = ("np", "numpy")

#: ``np.<x>`` attributes the generated code may use: pure math on arrays, no I/O, no randomness.
NUMPY_ALLOWED = frozenset(
    """
    pi e inf nan euler_gamma newaxis float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64
    bool_ intp floating integer number ndarray dtype finfo iinfo
    abs absolute add subtract multiply divide true_divide floor_divide power float_power mod remainder fmod divmod
    negative positive sign sqrt square cbrt reciprocal exp exp2 expm1 log log2 log10 log1p logaddexp logaddexp2
    sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh hypot deg2rad rad2deg degrees radians
    sinc heaviside signbit copysign clip minimum maximum fmin fmax where select piecewise asarray array asanyarray
    ascontiguousarray copy zeros ones full zeros_like ones_like full_like arange linspace logspace geomspace eye identity
    diag diagonal trace tri tril triu sum prod mean median average std var min max amin amax ptp argmin argmax
    nanmin nanmax nanmean nansum nanmedian nanstd nanvar percentile quantile cumsum cumprod diff gradient ediff1d
    dot vdot inner outer matmul cross einsum tensordot kron linalg round around floor ceil trunc rint fix
    isfinite isnan isinf isneginf isposinf nan_to_num isclose allclose array_equal array_equiv all any
    logical_and logical_or logical_not logical_xor equal not_equal less less_equal greater greater_equal
    bitwise_and bitwise_or bitwise_xor invert
    concatenate stack hstack vstack dstack column_stack split array_split reshape ravel transpose swapaxes moveaxis
    squeeze expand_dims atleast_1d atleast_2d atleast_3d broadcast_to broadcast_arrays flip fliplr flipud roll rot90
    take take_along_axis tile repeat pad sort argsort lexsort partition argpartition searchsorted unique count_nonzero
    nonzero argwhere flatnonzero extract compress interp digitize bincount histogram convolve correlate polyval
    shape size ndim result_type promote_types can_cast
    """.split()
)
_NUMPY_LINALG_ALLOWED = frozenset(
    "norm det inv pinv solve lstsq eig eigh eigvals eigvalsh svd matrix_rank cond qr cholesky slogdet multi_dot "
    "matrix_power trace".split()
)
# Why some tempting numpy names are not allowed, for the hint.
_NUMPY_WHY = {
    "random": "rewards must be deterministic; np.random is not available",
    "empty": "np.empty returns uninitialised memory (non-deterministic); use np.zeros",
    "empty_like": "np.empty_like returns uninitialised memory (non-deterministic); use np.zeros_like",
    "seterr": "np.seterr changes global state",
    "errstate": "context managers (`with`) are not allowed",
}

# Attribute names rejected anywhere (on any object), with the reason given in the hint.
_FORBIDDEN_ATTRS = {
    **{a: "reaches interpreter frames or code objects" for a in (
        "gi_frame gi_code gi_yieldfrom gi_running cr_frame cr_code cr_await ag_frame ag_code f_back f_globals f_locals "
        "f_builtins f_code f_trace tb_frame tb_next co_code co_consts co_names func_globals func_code mro"
    ).split()},
    **{a: "reads or writes files" for a in "tofile dump dumps load loads save savez savetxt loadtxt fromfile memmap genfromtxt".split()},
    **{a: "is not pure math" for a in "ctypes ctypeslib f2py lib testing DataSource distutils setflags flags format_map".split()},
}

_FORMAT_CALL_HINT = "call .format only directly on a string literal, or build the text with f-strings of plain names"


def _reject(rule: str, detail: str, node: ast.AST | None = None, hint: str = "", line: int | None = None) -> RewardCodeRejected:
    if node is not None and line is None:
        line = getattr(node, "lineno", None)
    return RewardCodeRejected("static", rule, detail, line, hint)


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(text: str) -> str:
    """The reward code in an LLM answer.

    The first fenced block tagged ``python``/``py``, else the first fenced block of any kind, else
    the whole text when it defines ``compute_reward``.

    Args:
        text: the LLM's answer.

    Raises:
        RewardCodeRejected: ``gate="static", rule="extract"`` when no code can be found.

    Example:
        >>> extract_code("Here it is:\\n```python\\ndef compute_reward(obs, action, next_obs, info):\\n    return 0.0\\n```\\nDone.")
        'def compute_reward(obs, action, next_obs, info):\\n    return 0.0\\n'
    """
    if not isinstance(text, str):
        raise _reject("extract", f"expected the answer as text, got {type(text).__name__}")
    blocks = _FENCE.findall(text)
    for lang, body in blocks:
        if lang.lower() in ("python", "py", "python3"):
            return body
    if blocks:
        return blocks[0][1]
    if "def compute_reward" in text:
        return text
    raise _reject(
        "extract", "the answer holds no code block and no `def compute_reward`",
        hint="answer with one ```python fenced block that defines compute_reward(obs, action, next_obs, info)",
    )


def static_check(source: str, *, allow_while: bool = False) -> ast.Module:
    """Gate 1: parse `source` and check it against the allow-list, without running any of it.

    Args:
        source: the reward code (see :func:`extract_code` for LLM answers).
        allow_while: accept ``while`` loops. Only for tests of the runtime guard (spec check H4),
            which must show that a loop that slips past gate 1 is still contained.

    Returns:
        The parsed module.

    Raises:
        RewardCodeRejected: ``gate="static"``, with the rule id, the line and a hint.

    Example:
        >>> ok = "import numpy as np\\ndef compute_reward(obs, action, next_obs, info):\\n    return -abs(obs.position - 0.5)\\n"
        >>> type(static_check(ok)).__name__
        'Module'
        >>> try:
        ...     static_check("import os\\ndef compute_reward(obs, action, next_obs, info):\\n    return 0.0\\n")
        ... except Exception as e:
        ...     print(e.rule, e.line)
        import:os 1
    """
    if not isinstance(source, str):
        raise _reject("extract", f"expected source text, got {type(source).__name__}")
    size, lines = len(source.encode("utf-8", "replace")), source.count("\n") + 1
    if size > LIMITS["max_bytes"] or lines > LIMITS["max_lines"]:
        raise _reject(
            "size", f"the code has {size} bytes and {lines} lines (limits: {LIMITS['max_bytes']} bytes, {LIMITS['max_lines']} lines)",
            hint="write one short compute_reward with few helpers",
        )
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise RewardCodeRejected(
            "static", "syntax", f"{e.msg} (line {e.lineno}, column {e.offset})", e.lineno,
            "fix the syntax error; the answer must be plain Python 3",
        ) from None
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes, absurd nesting
        raise _reject("syntax", f"the code cannot be parsed: {type(e).__name__}: {e}", hint="write plain, shallow Python 3") from None
    _check_module(tree)
    _Checker(allow_while).visit(tree)
    return tree


def strip_imports(source: str, tree: ast.Module | None = None) -> str:
    """`source` with its module-level import lines blanked (the worker injects ``np``/``numpy``/``math``).

    Lines are blanked rather than removed so tracebacks keep the original line numbers.
    `source` must have passed :func:`static_check` (only allowed imports remain at module level).
    """
    tree = tree if tree is not None else ast.parse(source)
    lines = source.splitlines()
    for node in tree.body:
        if isinstance(node, ast.Import):
            for i in range(node.lineno - 1, (node.end_lineno or node.lineno)):
                lines[i] = ""
    return "\n".join(lines) + "\n"


def _check_module(tree: ast.Module) -> None:
    rewards = []
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                expected = _ALLOWED_IMPORTS.get(alias.name)
                if expected is None:
                    raise _reject(
                        f"import:{alias.name}", f"`import {alias.name}` is not allowed", node,
                        "only `import numpy as np` and `import math` are allowed (np and math are already available)",
                    )
                if alias.asname not in (None, expected):
                    raise _reject(
                        f"import:{alias.name}", f"`import {alias.name} as {alias.asname}`: use the name `{expected}`", node,
                        f"write `import {alias.name}` or `import {alias.name} as {expected}`" if expected != alias.name
                        else f"write `import {alias.name}`",
                    )
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            rule = f"import:{module}" if module.split(".")[0] not in _ALLOWED_IMPORTS else "import:from"
            raise _reject(rule, f"`from {module} import ...` is not allowed", node,
                          "use `np.<name>` or `math.<name>` directly; np and math are already available")
        elif isinstance(node, ast.FunctionDef):
            if node.name == "compute_reward":
                rewards.append(node)
        elif i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            pass  # the module docstring
        else:
            kind = type(node).__name__
            raise _reject(
                f"stmt:{kind}", f"a module-level `{kind}` statement; only imports, function definitions and a docstring may be at the top level", node,
                "move constants and other statements inside compute_reward" if kind in ("Assign", "AnnAssign", "AugAssign", "Expr")
                else f"remove the `{kind}` statement",
            )
    if len(rewards) != 1:
        raise _reject(
            "signature", "the code defines no `compute_reward` function" if not rewards
            else f"`compute_reward` is defined {len(rewards)} times", rewards[1] if len(rewards) > 1 else None,
            "define exactly one top-level `def compute_reward(obs, action, next_obs, info):`",
        )
    args = rewards[0].args
    names = [a.arg for a in args.posonlyargs + args.args]
    if (tuple(names) != SIGNATURE or args.vararg or args.kwarg or args.kwonlyargs or args.defaults or args.kw_defaults):
        raise _reject(
            "signature", f"`compute_reward` must take exactly (obs, action, next_obs, info); got ({ast.unparse(args)})",
            rewards[0], "write `def compute_reward(obs, action, next_obs, info):` with no defaults, *args or **kwargs",
        )


_STMT_HINTS = {
    "While": "use `for i in range(n):` with a small literal n instead of `while`",
    "ClassDef": "use plain functions; classes are not allowed",
    "Global": "pass values as arguments and return results; `global` is not allowed",
    "Nonlocal": "pass values as arguments and return results; `nonlocal` is not allowed",
    "Try": "remove try/except: guard with np.where / explicit checks; exceptions are handled by the host",
    "TryStar": "remove try/except: guard with explicit checks",
    "With": "remove the `with` block",
    "AsyncWith": "remove the `with` block", "AsyncFor": "use a plain `for`", "AsyncFunctionDef": "use a plain `def`",
    "Await": "remove `await`", "Yield": "return a value instead of yielding", "YieldFrom": "return a value instead of yielding",
    "Import": "put `import numpy as np` / `import math` at the top of the code (np and math are already available)",
    "ImportFrom": "use `np.<name>` or `math.<name>` directly",
}
_FORBIDDEN_NODES = tuple(getattr(ast, n) for n in _STMT_HINTS if hasattr(ast, n))


class _Checker(ast.NodeVisitor):
    """Walks every node; raises on the first violation (its line is in the error)."""

    def __init__(self, allow_while: bool):
        self.allow_while = allow_while
        self.bound: set[str] = set()

    def visit_Module(self, node: ast.Module) -> None:
        # Names the code binds itself (variables, arguments, helpers): loading one of those is not
        # a builtin lookup, so only the always-forbidden names are rejected for them.
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
                self.bound.add(sub.id)
            elif isinstance(sub, ast.arg):
                self.bound.add(sub.arg)
            elif isinstance(sub, ast.FunctionDef):
                self.bound.add(sub.name)
        for stmt in node.body:
            if not isinstance(stmt, ast.Import):  # top-level imports were checked by _check_module
                self.visit(stmt)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, _FORBIDDEN_NODES) and not (self.allow_while and isinstance(node, ast.While)):
            kind = type(node).__name__
            if kind in ("Import", "ImportFrom"):
                mod = node.names[0].name if kind == "Import" else (node.module or "")
                if mod.split(".")[0] not in _ALLOWED_IMPORTS:
                    raise _reject(f"import:{mod}", f"`import {mod}` is not allowed", node, _STMT_HINTS["Import"])
                raise _reject("stmt:Import", "imports are only allowed at the top of the code", node, _STMT_HINTS["Import"])
            raise _reject(f"stmt:{kind}", f"`{kind}` statements are not allowed", node, _STMT_HINTS[kind])
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            if getattr(node, "decorator_list", None):
                raise _reject("stmt:Decorator", "decorators are not allowed", node, "remove the decorator")
            if isinstance(node, ast.FunctionDef):
                self._check_bound_name(node.name, node)
        super().generic_visit(node)

    # --- names and attributes -------------------------------------------------------------------
    def _check_name(self, name: str, node: ast.AST) -> None:
        import builtins

        if name in _ALWAYS_FORBIDDEN or (name.startswith("__") and name.endswith("__")) or (
            name in _FORBIDDEN_NAMES and name not in self.bound
        ):
            raise _reject(f"name:{name}", f"the name `{name}` is not allowed", node, _name_hint(name))
        if name.startswith("__"):
            raise _reject("attr:dunder", f"names starting with `__` are not allowed (`{name}`)", node, "rename it without leading underscores")
        if name in self.bound:
            return
        if hasattr(builtins, name) and name not in ALLOWED_BUILTINS and name not in ("True", "False", "None"):
            raise _reject(f"name:{name}", f"the builtin `{name}` is not available", node, _name_hint(name))

    def _check_bound_name(self, name: str, node: ast.AST) -> None:
        # A name the code binds (variable, argument, helper) may shadow a builtin harmlessly: the
        # worker's builtins hold only the allow-list. Dunders and the injected modules stay reserved.
        if name.startswith("__"):
            self._check_name(name, node)
        if name in _NUMPY_NAMES + ("math",):
            raise _reject(f"name:{name}", f"`{name}` is the injected module and cannot be reassigned", node, "use another variable name")

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check_name(node.id, node)
        else:
            self._check_bound_name(node.id, node)

    def visit_arg(self, node: ast.arg) -> None:
        self._check_bound_name(node.arg, node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("_"):
            raise _reject("attr:dunder", f"attributes starting with `_` are not allowed (`.{attr}`)", node,
                          "use only public fields of obs/next_obs/info and public numpy functions")
        chain = _dotted(node)
        if chain is not None and chain[0] in _NUMPY_NAMES:
            self._check_numpy(chain, node)
        if attr in _FORBIDDEN_ATTRS:
            raise _reject(f"attr:{attr}", f"the attribute `.{attr}` is not allowed: it {_FORBIDDEN_ATTRS[attr]}", node,
                          "compute the reward with arithmetic and numpy math only")
        if attr == "format" and not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            raise _reject("attr:format", "`.format` on something other than a string literal", node, _FORMAT_CALL_HINT)
        self.generic_visit(node)

    def _check_numpy(self, chain: list[str], node: ast.AST) -> None:
        if len(chain) < 2:
            return
        name = chain[1]
        if name not in NUMPY_ALLOWED:
            why = _NUMPY_WHY.get(name, "it is not on the allow-list of pure-math numpy functions")
            raise _reject(f"attr:np.{name}", f"`np.{name}` is not allowed: {why}", node,
                          "use numpy math such as np.clip, np.exp, np.tanh, np.linalg.norm, np.where")
        if name == "linalg" and len(chain) >= 3 and chain[2] not in _NUMPY_LINALG_ALLOWED:
            raise _reject(f"attr:np.linalg.{chain[2]}", f"`np.linalg.{chain[2]}` is not allowed", node,
                          f"allowed in np.linalg: {', '.join(sorted(_NUMPY_LINALG_ALLOWED))}")

    # --- literals and sizes ---------------------------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > LIMITS["max_int"]:
            raise _reject("literal:size", f"the integer literal {v} exceeds |x| <= {LIMITS['max_int']:.0e}", node,
                          "use small constants; huge arrays or loops are not allowed")
        if isinstance(v, (str, bytes)):
            _check_format_string(v if isinstance(v, str) else v.decode("latin-1"), node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        value = _fold_int(node)
        if value is not None and abs(value) > LIMITS["max_int"]:
            raise _reject("literal:size", f"the constant expression `{ast.unparse(node)}` is {_magnitude(value)} (limit |x| <= {LIMITS['max_int']:.0e})",
                          node, "use small constants; huge arrays or loops are not allowed")
        if isinstance(node.op, ast.Mult):
            for seq, count in ((node.left, node.right), (node.right, node.left)):
                length = _literal_len(seq)
                n = _fold_int(count)
                if length is not None and n is not None and length * n > LIMITS["max_repeat"]:
                    raise _reject("literal:size", f"`{ast.unparse(node)}` makes {length * n} elements (limit {LIMITS['max_repeat']:.0e})",
                                  node, "build only small sequences")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "range":
            for arg in node.args:
                n = _fold_int(arg)
                if n is not None and abs(n) > LIMITS["max_range"]:
                    raise _reject("literal:size", f"`{ast.unparse(node)}` loops more than {LIMITS['max_range']:.0e} times", node,
                                  "a reward is computed every step: keep loops short")
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        # f"{obs.__class__}": the inner expressions are ordinary nodes, checked by the visitor.
        self.generic_visit(node)


def _name_hint(name: str) -> str:
    if name in ("open", "print", "input"):
        return "the reward function may not do I/O; return the reward value only"
    if name in ("exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "hasattr", "globals", "locals", "vars", "dir", "type", "object", "super"):
        return "use plain attribute access on obs/next_obs/info and numpy math; no reflection"
    return f"allowed builtins: {', '.join(sorted(ALLOWED_BUILTINS))}; np and math are available"


def _check_format_string(text: str, node: ast.AST) -> None:
    """Reject a string that, used as a format string, would read an underscore attribute ("{0.__class__}")."""
    if "{" not in text:
        return
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # not a valid format string: .format would raise, nothing is read
    stack = [f for f in fields]
    while stack:
        _, field, spec, _ = stack.pop()
        if field and re.search(r"(\.|\[)\s*_", field):
            raise _reject("attr:dunder", f"the format string {text[:60]!r} reads an attribute starting with `_`", node,
                          "format only plain values: '{:.3f}'.format(x)")
        if spec and "{" in spec:
            try:
                stack.extend(string.Formatter().parse(spec))
            except ValueError:
                pass


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _literal_len(node: ast.AST) -> int | None:
    if isinstance(node, (ast.List, ast.Tuple)):
        return len(node.elts)
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return len(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):  # [0]*a*b
        inner = _literal_len(node.left)
        n = _fold_int(node.right)
        if inner is not None and n is not None:
            return inner * n
    return None


def _fold_int(node: ast.AST) -> int | None:
    """The value of a constant integer expression (+, -, *, //, **), or None. Never computes huge powers."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _fold_int(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp):
        a, b = _fold_int(node.left), _fold_int(node.right)
        if a is None or b is None:
            return None
        cap = LIMITS["max_int"] ** 4  # beyond this the exact value does not matter: it is over the limit
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.FloorDiv):
            return a // b if b else None
        if isinstance(node.op, ast.Pow):
            if b < 0:
                return None
            if abs(a) <= 1:
                return a ** min(b, 2)
            # |a|**b > cap as soon as b > log(cap)/log(2): stop there instead of computing it.
            return a ** b if b <= 120 and abs(a) ** b <= cap else cap + 1
    return None


def _magnitude(value: int) -> str:
    return f"{value:.3e}" if abs(value) < 10**300 else "astronomically large"


def rule_ids_doc() -> dict[str, Any]:  # pragma: no cover - documentation helper
    """The rule ids gate 1 can raise, for docs."""
    return {"structure": ["syntax", "size", "extract", "signature", "stmt:<Node>"], "imports": ["import:<module>", "import:from"],
            "names": ["name:<name>"], "attributes": ["attr:dunder", "attr:np.<x>", "attr:<name>", "attr:format"], "literals": ["literal:size"]}
