"""Rewriting a pytest-style test file so that the host, not the sandbox, decides every verdict.

The candidate's code runs in the same process as the tests, so anything evaluated there (an
``assert``, ``==`` on the candidate's object, ``bool()`` of it) is under its control. On the host,
``rewrite_tests`` turns each ``assert`` into an *observation* and keeps the decision:

- the assert's expression is split into a host part (comparisons ``== != < <= > >= in not in is
  is not``, ``and``/``or``/``not``, and literals) and *leaves*: every other sub-expression
  (calls, names, attributes, ...). The statement becomes ``_coral_observe(check_id, leaf, ...)``
  in the sandbox; the host keeps the rest (``Check.expr``) and evaluates it on the serialised
  leaf values (``observations``). ``assert f(x) == 3`` observes ``f(x)``; ``assert x`` observes
  ``x`` and the host takes its truth value; ``assert not a`` observes ``a``;
- literals never enter the sandbox: a literal operand (``[1, 2]``, ``{(1, 2): 3}``,
  ``float("inf")``, ``pytest.approx(2.0, abs=1e-3)``), a local name assigned a literal once and
  used only as such an operand (``expected = {...}; assert result == expected``), and a
  parametrize argument used only as such an operand (its value per test id is in
  ``RewrittenTests.bindings``) are all dropped from the sandbox copy, and so are docstrings
  (QuixBugs writes the expected output there) and ``assert`` messages;
- ``with pytest.raises(E):`` becomes ``with _coral_raises(check_id):``, which observes the class
  names of whatever was raised (``None`` if nothing); the host checks that ``E`` is among them.

Leaves compared with each other (``assert result == node1``, ``assert walked == originals``)
are *anchored*: the candidate's values must also equal the correct program's, which the
evaluator observes the same way (the reference run). Without that, a candidate that controls
both sides could report any equal pair. Leaves judged against literals or by truth value need
no reference: forging them means knowing the answer.

Unsupported, refused at load time with ``file:line``: ``assert`` outside a function,
``pytest.raises`` outside a ``with`` or with extra arguments, ``approx`` with non-literal
arguments.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from coral_dagster.benchmark.pytest_cases import TestFileError, parametrize_call
from coral_dagster.benchmark.pytest_shim import approx

OBSERVE = "_coral_observe"
RAISES = "_coral_raises"
COMPARE_OPS: dict[type, str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_CONSTRUCTORS = {"set": set, "frozenset": frozenset, "tuple": tuple, "list": list, "dict": dict}
_NOT_CONST = object()

# A host expression: ("leaf", i) | ("const", value) | ("param", name)
#   | ("cmp", (op, ...), (operand, ...)) | ("and" | "or", (operand, ...)) | ("not", operand)
#   | ("raises", (exception class name, ...))  (leaf 0: the observed class names or None)
HostExpr = tuple


@dataclass(frozen=True)
class Check:
    """One ``assert`` (or ``pytest.raises``) of the test file, as the host evaluates it."""

    id: int
    line: int
    source: str
    expr: HostExpr
    leaves: tuple[str, ...]
    anchored: frozenset[int] = frozenset()


@dataclass(frozen=True)
class RewrittenTests:
    """The test file as it enters the sandbox, and what the host keeps to judge it."""

    source: str
    checks: tuple[Check, ...]
    bindings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _is_pytest_attr(node: ast.expr, name: str) -> bool:
    """``pytest.<name>`` or a bare ``<name>`` (as ``from pytest import <name>`` gives)."""
    if isinstance(node, ast.Attribute):
        return node.attr == name and isinstance(node.value, ast.Name) and node.value.id == "pytest"
    return isinstance(node, ast.Name) and node.id == name


def const_value(node: ast.expr, env: Mapping[str, Any] | None = None) -> Any:
    """The literal value of ``node`` or ``_NOT_CONST``. Beyond ``ast.literal_eval``: negative
    numbers, ``float(<literal>)``, ``set()``/``tuple(...)``-style constructors of literals and
    ``approx(<literal>, rel=, abs=)``; ``env`` resolves names (top level only)."""
    if env is not None and isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        if any(isinstance(e, ast.Starred) for e in node.elts):
            return _NOT_CONST
        items = [const_value(e) for e in node.elts]
        if any(i is _NOT_CONST for i in items):
            return _NOT_CONST
        kind = {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)]
        try:
            return kind(items)
        except TypeError:  # unhashable set element: let the sandbox raise it as written
            return _NOT_CONST
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            return _NOT_CONST
        keys = [const_value(k) for k in node.keys if k is not None]
        values = [const_value(v) for v in node.values]
        if any(x is _NOT_CONST for x in [*keys, *values]):
            return _NOT_CONST
        try:
            return dict(zip(keys, values, strict=True))
        except TypeError:
            return _NOT_CONST
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = const_value(node.operand)
        if type(value) in (int, float, complex):
            return -value if isinstance(node.op, ast.USub) else +value
        return _NOT_CONST
    if isinstance(node, ast.Call):
        return _const_call(node)
    return _NOT_CONST


def _const_call(node: ast.Call) -> Any:
    args = [const_value(a) for a in node.args if not isinstance(a, ast.Starred)]
    if len(args) != len(node.args) or any(a is _NOT_CONST for a in args):
        return _NOT_CONST
    if _is_pytest_attr(node.func, "approx"):
        kwargs = {k.arg: const_value(k.value) for k in node.keywords}
        if len(args) != 1 or not set(kwargs) <= {"rel", "abs"} or _NOT_CONST in kwargs.values():
            return _NOT_CONST
        return approx(args[0], **kwargs)
    if not isinstance(node.func, ast.Name) or node.keywords or len(args) > 1:
        return _NOT_CONST
    if node.func.id == "float" and len(args) == 1 and type(args[0]) in (str, int, float):
        try:
            return float(args[0])
        except ValueError:
            return _NOT_CONST
    if node.func.id in _CONSTRUCTORS:
        try:
            return _CONSTRUCTORS[node.func.id](*args)
        except (TypeError, ValueError):
            return _NOT_CONST
    return _NOT_CONST


def _host_names(test: ast.expr) -> list[ast.Name]:
    """Names the host would evaluate in an assert's expression (operands of comparisons,
    ``and``/``or``/``not`` and the bare expression itself)."""
    if isinstance(test, ast.Name):
        return [test]
    if isinstance(test, ast.Compare):
        return [n for operand in [test.left, *test.comparators] for n in _host_names(operand)]
    if isinstance(test, ast.BoolOp):
        return [n for value in test.values for n in _host_names(value)]
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _host_names(test.operand)
    return []


def _own_asserts(function: ast.FunctionDef) -> list[ast.Assert]:
    """Asserts of ``function`` itself, not of functions or lambdas nested in it."""
    found: list[ast.Assert] = []
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Assert):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _host_only(function: ast.FunctionDef, name: str) -> bool:
    """Is every load of ``name`` in ``function`` an operand the host evaluates?"""
    loads = {
        id(n)
        for n in ast.walk(function)
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
    }
    host = {id(n) for a in _own_asserts(function) for n in _host_names(a.test) if n.id == name}
    return bool(loads) and loads <= host


def _stores(function: ast.FunctionDef, name: str) -> int:
    count = sum(
        1
        for n in ast.walk(function)
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, (ast.Store, ast.Del))
    )
    declared = any(
        isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names for n in ast.walk(function)
    )
    return count + (1000 if declared else 0)


def _inline_literals(function: ast.FunctionDef) -> dict[str, Any]:
    """Remove ``name = <literal>`` statements whose name only feeds host-side operands."""
    env: dict[str, Any] = {}
    params = {a.arg for a in [*function.args.args, *function.args.kwonlyargs]}
    kept: list[ast.stmt] = []
    for statement in function.body:
        target = statement.targets[0] if isinstance(statement, ast.Assign) else None
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(target, ast.Name)
            and target.id not in params
            and _stores(function, target.id) == 1
            and _host_only(function, target.id)
        ):
            value = const_value(statement.value)
            if value is not _NOT_CONST:
                env[target.id] = value
                continue
        kept.append(statement)
    function.body = kept or [ast.Pass()]
    return env


class _Builder:
    """Splits one assert expression into the host expression and the observed leaves."""

    def __init__(self, env: Mapping[str, Any], params: frozenset[str]):
        self.env, self.params = env, params
        self.leaves: list[ast.expr] = []
        self.anchored: set[int] = set()

    def build(self, node: ast.expr) -> HostExpr:
        if isinstance(node, ast.Name) and node.id in self.params:
            return ("param", node.id)
        value = const_value(node, self.env)
        if value is not _NOT_CONST:
            return ("const", value)
        if isinstance(node, ast.Compare):
            ops = tuple(COMPARE_OPS[type(op)] for op in node.ops)
            operands = [self.build(x) for x in [node.left, *node.comparators]]
            for left, right in itertools.pairwise(operands):
                if _observed(left) and _observed(right):
                    self.anchored.update(_leaf_ids(left) + _leaf_ids(right))
            return ("cmp", ops, tuple(operands))
        if isinstance(node, ast.BoolOp):
            kind = "and" if isinstance(node.op, ast.And) else "or"
            return (kind, tuple(self.build(v) for v in node.values))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ("not", self.build(node.operand))
        self.leaves.append(node)
        return ("leaf", len(self.leaves) - 1)


def _observed(expr: HostExpr) -> bool:
    return expr[0] not in ("const", "param")


def _leaf_ids(expr: HostExpr) -> list[int]:
    if expr[0] == "leaf":
        return [expr[1]]
    if expr[0] == "cmp":
        return [i for operand in expr[2] for i in _leaf_ids(operand)]
    if expr[0] in ("and", "or"):
        return [i for operand in expr[1] for i in _leaf_ids(operand)]
    if expr[0] == "not":
        return _leaf_ids(expr[1])
    return []


def _strip_docstring(node: ast.AST) -> None:
    body = getattr(node, "body", None)
    if (
        isinstance(body, list)
        and body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body.pop(0)
        if not body:
            body.append(ast.Pass())


def _literal_ast(value: Any, where: str) -> ast.expr:
    node = ast.parse(repr(value), mode="eval").body
    if const_value(node) != value:
        raise TestFileError(f"{where}: parametrize value {value!r} cannot be written back")
    return node


def _nested_functions(nodes: list[ast.AST]) -> list[ast.FunctionDef]:
    """Function definitions inside ``nodes``, not looking into the functions found."""
    found: list[ast.FunctionDef] = []
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node)  # type: ignore[arg-type]
        elif not isinstance(node, ast.Lambda):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return found


class _Statements(ast.NodeTransformer):
    """Rewrites the asserts and ``pytest.raises`` blocks of one function (or the module level,
    where an assert is refused), leaving nested functions to their own pass."""

    def __init__(self, rewriter: _Rewriter, env: dict[str, Any] | None, params: frozenset[str]):
        self.rewriter, self.env, self.params = rewriter, env, params

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    visit_Lambda = visit_FunctionDef  # type: ignore[assignment]

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        if self.env is None:
            raise TestFileError(f"{self.rewriter.where(node)}: assert outside a function")
        return self.rewriter.assertion(node, self.env, self.params)

    def visit_With(self, node: ast.With) -> ast.AST:
        for item in node.items:
            self.rewriter.with_item(item)
        self.generic_visit(node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if _is_pytest_attr(node.func, "raises"):
            raise TestFileError(
                f"{self.rewriter.where(node)}: pytest.raises is supported only as "
                "`with pytest.raises(E):`"
            )
        if _is_pytest_attr(node.func, "approx"):
            raise TestFileError(
                f"{self.rewriter.where(node)}: approx is supported only as a literal operand "
                "of an assert's comparison"
            )
        self.generic_visit(node)
        return node


class _Rewriter:
    def __init__(self, source: str, filename: str):
        self.source, self.filename = source, filename
        self.checks: list[Check] = []
        self.bindings: dict[str, dict[str, Any]] = {}

    def where(self, node: ast.AST) -> str:
        return f"{self.filename}:{getattr(node, 'lineno', 0)}"

    def run(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            _strip_docstring(node)
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef):
                self.function(statement, top_level=True)
            else:
                for function in _nested_functions([statement]):
                    self.function(function, top_level=False)
                _Statements(self, None, frozenset()).visit(statement)

    def function(self, function: ast.FunctionDef, top_level: bool) -> None:
        for nested in _nested_functions(list(function.body)):
            self.function(nested, top_level=False)
        env = _inline_literals(function)
        params = self._hide_params(function) if top_level else frozenset()
        transformer = _Statements(self, env, params)
        function.body = [transformer.visit(s) for s in function.body]

    def _hide_params(self, function: ast.FunctionDef) -> frozenset[str]:
        """Drop parametrize arguments that only feed host-side operands (values to bindings)."""
        index = next(
            (i for i, d in enumerate(function.decorator_list) if parametrize_call(d)), None
        )
        if index is None or not function.name.startswith("test"):
            return frozenset()
        call = function.decorator_list[index]
        assert isinstance(call, ast.Call)
        raw = ast.literal_eval(call.args[0])
        names = [a.strip() for a in raw.split(",") if a.strip()] if isinstance(raw, str) else raw
        values = ast.literal_eval(call.args[1])
        rows = [list(v) if len(names) > 1 else [v] for v in values]
        hidden = [n for n in names if _stores(function, n) == 0 and _host_only(function, n)]
        if not hidden:
            return frozenset()
        for i, row in enumerate(rows):
            self.bindings[f"{function.name}[{i}]"] = {n: row[names.index(n)] for n in hidden}
        kept = [n for n in names if n not in hidden]
        function.args.args = [a for a in function.args.args if a.arg not in hidden]
        if not kept:
            function.decorator_list.pop(index)
            return frozenset(hidden)
        where = self.where(call)
        kept_rows = [
            [row[names.index(n)] for n in kept] if len(kept) > 1 else row[names.index(kept[0])]
            for row in rows
        ]
        call.args[0] = ast.Constant(",".join(kept))
        call.args[1] = ast.List([_literal_ast(r, where) for r in kept_rows], ast.Load())
        return frozenset(hidden)

    def with_item(self, item: ast.withitem) -> None:
        call = item.context_expr
        if not (isinstance(call, ast.Call) and _is_pytest_attr(call.func, "raises")):
            return
        where = self.where(call)
        if len(call.args) != 1 or call.keywords:
            raise TestFileError(
                f"{where}: only `with pytest.raises(E):` (one argument) is supported"
            )
        target = call.args[0]
        names = []
        for cls in target.elts if isinstance(target, ast.Tuple) else [target]:
            if isinstance(cls, ast.Name):
                names.append(cls.id)
            elif isinstance(cls, ast.Attribute):
                names.append(cls.attr)
            else:
                raise TestFileError(f"{where}: pytest.raises needs exception classes by name")
        check = Check(
            id=len(self.checks),
            line=call.lineno,
            source=ast.get_source_segment(self.source, call) or ast.unparse(call),
            expr=("raises", tuple(names)),
            leaves=("<raised exception>",),
        )
        self.checks.append(check)
        item.context_expr = ast.copy_location(
            ast.Call(ast.Name(RAISES, ast.Load()), [ast.Constant(check.id)], []), call
        )

    def assertion(self, node: ast.Assert, env: dict, params: frozenset[str]) -> ast.stmt:
        builder = _Builder(env, params)
        expr = builder.build(node.test)
        for leaf in builder.leaves:
            for sub in ast.walk(leaf):
                if isinstance(sub, ast.Call) and _is_pytest_attr(sub.func, "approx"):
                    raise TestFileError(
                        f"{self.where(sub)}: approx needs literal arguments and must be a "
                        "comparison operand"
                    )
        check = Check(
            id=len(self.checks),
            line=node.lineno,
            source=ast.get_source_segment(self.source, node.test) or ast.unparse(node.test),
            expr=expr,
            leaves=tuple(ast.unparse(leaf) for leaf in builder.leaves),
            anchored=frozenset(builder.anchored),
        )
        self.checks.append(check)
        call = ast.Call(
            ast.Name(OBSERVE, ast.Load()), [ast.Constant(check.id), *builder.leaves], []
        )
        return ast.copy_location(ast.Expr(call), node)


def rewrite_tests(source: str, filename: str) -> RewrittenTests:
    """Rewrite a (``scan_test_file``-checked) test file; ``TestFileError`` names ``file:line``."""
    tree = ast.parse(source, filename=filename)
    rewriter = _Rewriter(source, filename)
    rewriter.run(tree)
    position = 0
    while position < len(tree.body) and (
        isinstance(tree.body[position], ast.ImportFrom)
        and tree.body[position].module == "__future__"
    ):
        position += 1
    hook = ast.ImportFrom("pytest", [ast.alias(OBSERVE), ast.alias(RAISES)], 0)
    tree.body.insert(position, hook)
    text = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    return RewrittenTests(text, tuple(rewriter.checks), rewriter.bindings)
