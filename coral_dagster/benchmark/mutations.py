"""Deterministic AST-level mutation operators on single lines of a Python program.

One set of operators serves two users:

- the bug injector (``program_mutants`` / ``sample_mutants``): every mutant of a correct
  program, to make synthetic (buggy -> fixed) training pairs;
- edit candidates (``line_edits`` / ``insertion_edits``): every single edit of a marked buggy
  line, to be ranked by the model.

How an edit is made: the program is parsed; a *site* is an AST node that starts and ends on
the line (nodes spanning several lines are skipped); an operator gives replacement nodes for a
site; the replacement's source (``ast.unparse``) replaces the site's column span on the line
(UTF-8 byte offsets, as ``ast`` reports them), so the rest of the line keeps its formatting and
indentation. An edit is kept only when the edited program parses to exactly the original tree
with that one node replaced (compared with ``ast.dump``); when operator precedence breaks that,
the replacement is parenthesised, and dropped if that does not help either. Edits that leave
the tree unchanged (``f(a, a)`` swapped) are dropped.

Operators (``OPERATORS``, in the order candidates are listed):

==================  ==========================================================================
``comparison``      one comparison operator -> another of its group: ``< <= > >= == !=``,
                    ``is``/``is not``, ``in``/``not in``
``off_by_one``      int constant ``c`` -> ``c + 1``, ``c - 1``; a value expression ``e`` (name,
                    subscript, call, attribute, arithmetic) in an index, slice, call argument,
                    operand or right-hand side -> ``e + 1``, ``e - 1``; ``e + 1``/``e - 1``/
                    ``1 + e`` -> ``e`` (an existing offset ``e + c`` is not offset again,
                    its ``c`` changes instead, never to ``0``)
``arithmetic``      one binary/augmented operator -> another of its group (``+ - * / // % **``;
                    ``& | ^ << >>``); ``and`` <-> ``or``
``swap``            two positional call arguments, two tuple elements, the operands of a binary
                    operator or of a single comparison exchanged
``literal``         wrong return/initial value: ``True`` <-> ``False``; ``None`` -> ``0``, ``[]``
                    (not as an operand of ``is``, where Python warns of a literal);
                    ``[]`` -> ``[[]]``, ``None``, ``[v]`` for each variable ``v`` in scope;
                    ``[[]]`` -> ``[]``; ``[x]`` -> ``[]``
``builtin``         ``any`` <-> ``all``, ``min`` <-> ``max`` (called names)
``attribute``       ``.a`` -> ``.b`` for every other attribute name used in the program
``negation``        ``not`` added to a condition (if/while/assert/ternary test, comprehension
                    filter, ``and``/``or`` operand) or removed (``not e`` -> ``e``)
``drop_operand``    ``a and b`` -> ``a``, ``b``; ``a + b`` -> ``a``, ``b`` (any arithmetic
                    operator); a call ``f(a, b)`` -> each positional argument
``variable``        a variable -> another variable in scope (parameters and names assigned in
                    the enclosing functions, comprehension targets of the line, module-level
                    assignments); ``None``/``True``/``False`` -> a variable in scope
``expression``      a subscript or attribute expression -> another one used in the same
                    top-level function, methods excepted (``d[u, v]`` -> ``w[v]``)
``delete``          a one-line expression/assignment statement deleted (injector only; its
                    block keeps at least one statement)
==================  ==========================================================================

Missing lines (``insertion_edits``): the candidates for a line inserted at a place are the
one-line expression/assignment statements of the function around it, copied verbatim and
with every single edit above: the mechanical inverse of ``delete``, which covers a missing
line that repeats or adapts a statement of the function (``lines.append(line)`` ->
``lines.append(text)``) and nothing else (a call never made in the function is out of reach).

Everything is a pure function of the source text: the same input gives the same list in the
same order (sites in AST pre-order, alternatives in the tables' order). ``sample_mutants``
draws from that list with ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EDIT_OPERATORS",
    "INJECTOR_OPERATORS",
    "OPERATORS",
    "LineEdit",
    "Mutant",
    "MutationError",
    "insertion_edits",
    "line_edits",
    "program_mutants",
    "sample_mutants",
]

OPERATORS: tuple[str, ...] = (
    "comparison",
    "off_by_one",
    "arithmetic",
    "swap",
    "literal",
    "builtin",
    "attribute",
    "negation",
    "drop_operand",
    "variable",
    "expression",
    "delete",
)
EDIT_OPERATORS: tuple[str, ...] = OPERATORS[:-1]
INJECTOR_OPERATORS: tuple[str, ...] = OPERATORS

_COMPARISON_GROUPS: tuple[tuple[type[ast.cmpop], ...], ...] = (
    (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq),
    (ast.Is, ast.IsNot),
    (ast.In, ast.NotIn),
)
_ARITHMETIC_GROUPS: tuple[tuple[type[ast.operator], ...], ...] = (
    (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow),
    (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift),
)
_BUILTIN_SWAPS = {"any": "all", "all": "any", "min": "max", "max": "min"}
_VALUE_NODES = (ast.Name, ast.Subscript, ast.Call, ast.Attribute, ast.BinOp)
_SIMPLE_STATEMENTS = (ast.Expr, ast.Assign, ast.AugAssign)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)

Path = tuple[tuple[str, int | None], ...]


class MutationError(ValueError):
    """A program or line cannot be mutated (does not parse, line out of range)."""


@dataclass(frozen=True)
class LineEdit:
    """One candidate for a line: ``text`` is the whole new line (indentation included)."""

    operator: str
    text: str


@dataclass(frozen=True)
class Mutant:
    """A program with one injected bug: line ``lineno`` (1-based, in the original program)
    ``original`` became ``mutated`` (``None``: the line was deleted); ``source`` is the whole
    mutated program."""

    operator: str
    lineno: int
    original: str
    mutated: str | None
    source: str


@dataclass(frozen=True)
class _Site:
    path: Path
    node: ast.AST
    parent: ast.AST
    field: str


@dataclass
class _Context:
    """What operators may draw on: the program's tree, variables in scope of the line, the
    attribute names of the program, and the subscript/attribute expressions of the function."""

    tree: ast.Module
    lineno: int
    variables: tuple[str, ...]
    attributes: tuple[str, ...]
    expressions: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# AST helpers


def _walk(node: ast.AST, path: Path = ()) -> Iterator[_Site]:
    """Every descendant of ``node`` in pre-order with its path from ``node``."""
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, ast.AST):
                    item_path = (*path, (field, index))
                    yield _Site(item_path, item, node, field)
                    yield from _walk(item, item_path)
        elif isinstance(value, ast.AST):
            item_path = (*path, (field, None))
            yield _Site(item_path, value, node, field)
            yield from _walk(value, item_path)


def _on_line(node: ast.AST, lineno: int) -> bool:
    return getattr(node, "lineno", None) == lineno and getattr(node, "end_lineno", None) == lineno


def _replace_at(tree: ast.AST, path: Path, new: ast.AST | None) -> ast.AST:
    """A deep copy of ``tree`` with the node at ``path`` replaced (``None``: removed from its
    list)."""
    result = copy.deepcopy(tree)
    parent = result
    for field, index in path[:-1]:
        child = getattr(parent, field)
        parent = child[index] if index is not None else child
    field, index = path[-1]
    if index is None:
        setattr(parent, field, new)
    elif new is None:
        del getattr(parent, field)[index]
    else:
        getattr(parent, field)[index] = new
    return result


def _normalised(node: ast.AST, like: ast.AST) -> ast.AST:
    """``node`` as the parser reads back its unparsed text (e.g. ``Constant(-1)`` becomes
    ``-1`` = ``UnaryOp(USub, 1)``), with ``like``'s expression context."""
    text = ast.unparse(node)
    if isinstance(node, ast.stmt):
        return ast.parse(text).body[0]
    parsed = ast.parse(text, mode="eval").body
    ctx = getattr(like, "ctx", None)
    if ctx is not None and hasattr(parsed, "ctx"):
        parsed.ctx = type(ctx)()
    return parsed


def _byte_span(line: str, node: ast.AST) -> tuple[bytes, bytes]:
    data = line.encode("utf-8")
    return data[: node.col_offset], data[node.end_col_offset :]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Scope


def _bound_names(body: Sequence[ast.AST], lineno: int) -> list[str]:
    """Names assigned in ``body`` (nested function/class bodies excluded, their names kept;
    comprehension targets only where the comprehension spans ``lineno``)."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, _COMPREHENSIONS) and not (
            node.lineno <= lineno <= (node.end_lineno or node.lineno)
        ):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for statement in body:
        visit(statement)
    return names


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    args = function.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _enclosing_functions(tree: ast.Module, lineno: int) -> list[ast.AST]:
    """Functions whose span contains ``lineno``, outermost first."""
    chain = []
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS) and node.lineno <= lineno <= (node.end_lineno or 0):
            chain.append(node)
    return sorted(chain, key=lambda f: (f.lineno, -(f.end_lineno or 0)))


def _variables_in_scope(tree: ast.Module, lineno: int) -> tuple[str, ...]:
    names = _bound_names([s for s in tree.body if not isinstance(s, ast.Import)], lineno)
    for function in _enclosing_functions(tree, lineno):
        names += _parameters(function)
        body = function.body if isinstance(function.body, list) else [function.body]
        names += _bound_names(body, lineno)
    return tuple(dict.fromkeys(names))


def _function_expressions(tree: ast.Module, lineno: int) -> tuple[str, ...]:
    functions = _enclosing_functions(tree, lineno)
    scope = functions[0] if functions else tree
    methods = {id(n.func) for n in ast.walk(scope) if isinstance(n, ast.Call)}
    texts = [
        ast.unparse(node)
        for node in ast.walk(scope)
        if isinstance(node, (ast.Subscript, ast.Attribute)) and id(node) not in methods
    ]
    return tuple(dict.fromkeys(texts))


def _context(tree: ast.Module, lineno: int) -> _Context:
    attributes = tuple(
        dict.fromkeys(n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute))
    )
    return _Context(
        tree=tree,
        lineno=lineno,
        variables=_variables_in_scope(tree, lineno),
        attributes=attributes,
        expressions=_function_expressions(tree, lineno),
    )


# ---------------------------------------------------------------------------------------------
# Operators: each maps a site to replacement nodes


def _comparison(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if not isinstance(node, ast.Compare):
        return []
    out = []
    for index, op in enumerate(node.ops):
        group = next((g for g in _COMPARISON_GROUPS if isinstance(op, g)), ())
        for alternative in group:
            if not isinstance(op, alternative):
                new = copy.deepcopy(node)
                new.ops[index] = alternative()
                out.append(new)
    return out


def _is_int(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
    )


def _numeric_position(site: _Site) -> bool:
    """A value position where ``+ 1`` can make sense: not a call's function, not the object of
    an attribute or subscript, not an assignment target, not a loop/comprehension iterable,
    not a truth test."""
    parent, field = site.parent, site.field
    if isinstance(getattr(site.node, "ctx", None), (ast.Store, ast.Del)):
        return False
    if isinstance(parent, ast.Call) and field == "func":
        return False
    if isinstance(parent, (ast.Attribute, ast.Subscript)) and field == "value":
        return False
    if isinstance(parent, (ast.For, ast.comprehension)) and field == "iter":
        return False
    if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and field == "test":
        return False
    if isinstance(parent, (ast.BoolOp, ast.comprehension)) or (
        isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not)
    ):
        return False
    return not isinstance(parent, ast.keyword) or field == "value"


def _offset(node: ast.AST) -> bool:
    """``e + c``, ``e - c`` or ``c + e`` with an int constant ``c`` (already an offset)."""
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, (ast.Add, ast.Sub))
        and (_is_int(node.right) or (isinstance(node.op, ast.Add) and _is_int(node.left)))
    )


def _off_by_one(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if _is_int(node):
        value = node.value  # type: ignore[attr-defined]
        # In an offset, c -> 0 is the same as removing it (listed below for ``e + 1``).
        bounds = [value + 1, value - 1]
        return [ast.Constant(v) for v in bounds if not (v == 0 and _offset(site.parent))]
    out: list[ast.AST] = []
    if _offset(node):
        assert isinstance(node, ast.BinOp)
        if _is_int(node.right) and node.right.value == 1:  # type: ignore[attr-defined]
            out.append(copy.deepcopy(node.left))
        elif _is_int(node.left) and node.left.value == 1:  # type: ignore[attr-defined]
            out.append(copy.deepcopy(node.right))
        return out  # ``(e + 1) + 1`` is the constant's business
    if _offset(site.parent):
        return out  # ``(e - 1) + 1`` is ``e``: covered by removing the offset
    if isinstance(node, _VALUE_NODES) and _numeric_position(site):
        for op in (ast.Add, ast.Sub):
            out.append(ast.BinOp(copy.deepcopy(node), op(), ast.Constant(1)))
    return out


def _arithmetic(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    out: list[ast.AST] = []
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        group = next((g for g in _ARITHMETIC_GROUPS if isinstance(node.op, g)), ())
        for alternative in group:
            if not isinstance(node.op, alternative):
                new = copy.deepcopy(node)
                new.op = alternative()
                out.append(new)
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append(new)
    return out


def _swapped(items: list[ast.AST], i: int, j: int) -> list[ast.AST]:
    items = [copy.deepcopy(x) for x in items]
    items[i], items[j] = items[j], items[i]
    return items


def _pairs(n: int) -> Iterator[tuple[int, int]]:
    return ((i, j) for i in range(n) for j in range(i + 1, n))


def _swap(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    out: list[ast.AST] = []
    if isinstance(node, ast.Call):
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(positional) == len(node.args):
            for i, j in _pairs(len(node.args)):
                new = copy.deepcopy(node)
                new.args = _swapped(node.args, i, j)
                out.append(new)
    elif isinstance(node, ast.Tuple):
        for i, j in _pairs(len(node.elts)):
            new = copy.deepcopy(node)
            new.elts = _swapped(node.elts, i, j)
            out.append(new)
    elif isinstance(node, ast.BinOp):
        new = copy.deepcopy(node)
        new.left, new.right = new.right, new.left
        out.append(new)
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        new = copy.deepcopy(node)
        new.left, new.comparators[0] = new.comparators[0], new.left
        out.append(new)
    return out


def _literal(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return [ast.Constant(not node.value)]
    if isinstance(node, ast.Constant) and node.value is None:
        identity = isinstance(site.parent, ast.Compare) and any(
            isinstance(op, (ast.Is, ast.IsNot)) for op in site.parent.ops
        )
        return [] if identity else [ast.Constant(0), ast.List([], ast.Load())]
    if isinstance(node, ast.List) and isinstance(node.ctx, ast.Load):
        if not node.elts:
            out: list[ast.AST] = [ast.List([ast.List([], ast.Load())], ast.Load())]
            out.append(ast.Constant(None))
            out += [ast.List([ast.Name(v, ast.Load())], ast.Load()) for v in ctx.variables]
            return out
        if len(node.elts) == 1:
            return [ast.List([], ast.Load())]
    return []


def _builtin(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if (
        isinstance(site.parent, ast.Call)
        and site.field == "func"
        and isinstance(node, ast.Name)
        and node.id in _BUILTIN_SWAPS
    ):
        return [ast.Name(_BUILTIN_SWAPS[node.id], ast.Load())]
    return []


def _attribute(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if not isinstance(node, ast.Attribute):
        return []
    out = []
    for name in ctx.attributes:
        if name != node.attr:
            new = copy.deepcopy(node)
            new.attr = name
            out.append(new)
    return out


def _is_condition(site: _Site) -> bool:
    parent, field = site.parent, site.field
    if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and field == "test":
        return True
    return isinstance(parent, ast.BoolOp) or (
        isinstance(parent, ast.comprehension) and field == "ifs"
    )


def _negation(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return [copy.deepcopy(node.operand)]
    if isinstance(node, ast.expr) and _is_condition(site):
        return [ast.UnaryOp(ast.Not(), copy.deepcopy(node))]
    return []


def _drop_operand(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if isinstance(node, ast.BoolOp):
        if len(node.values) == 2:
            return [copy.deepcopy(v) for v in node.values]
        out: list[ast.AST] = []
        for index in range(len(node.values)):
            new = copy.deepcopy(node)
            del new.values[index]
            out.append(new)
        return out
    if isinstance(node, ast.BinOp):
        return [copy.deepcopy(node.left), copy.deepcopy(node.right)]
    if isinstance(node, ast.Call) and not node.keywords:
        args = [a for a in node.args if not isinstance(a, ast.Starred)]
        return [copy.deepcopy(a) for a in args]
    return []


def _variable(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if isinstance(node, ast.Name):
        if isinstance(site.parent, ast.Call) and site.field == "func":
            return []
        if isinstance(node.ctx, ast.Del):
            return []
        if isinstance(node.ctx, ast.Store) and not isinstance(
            site.parent, (ast.Assign, ast.AugAssign)
        ):
            return []
        return [ast.Name(v, type(node.ctx)()) for v in ctx.variables if v != node.id]
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool)):
        return [ast.Name(v, ast.Load()) for v in ctx.variables]
    return []


def _expression(site: _Site, ctx: _Context) -> list[ast.AST]:
    node = site.node
    if not isinstance(node, (ast.Subscript, ast.Attribute)):
        return []
    if isinstance(site.parent, ast.Call) and site.field == "func":
        return []  # a method: the ``attribute`` operator's business
    own = ast.unparse(node)
    return [ast.parse(text, mode="eval").body for text in ctx.expressions if text != own]


_OPERATOR_FUNCTIONS: dict[str, Callable[[_Site, _Context], list[ast.AST]]] = {
    "comparison": _comparison,
    "off_by_one": _off_by_one,
    "arithmetic": _arithmetic,
    "swap": _swap,
    "literal": _literal,
    "builtin": _builtin,
    "attribute": _attribute,
    "negation": _negation,
    "drop_operand": _drop_operand,
    "variable": _variable,
    "expression": _expression,
}


# ---------------------------------------------------------------------------------------------
# Line edits


def _parse(source: str, what: str) -> ast.Module:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError) as err:
        raise MutationError(f"{what} does not parse: {err}") from None


def _check_operators(operators: Sequence[str], allowed: Sequence[str]) -> None:
    unknown = [o for o in operators if o not in allowed]
    if unknown:
        raise MutationError(f"unknown mutation operators {unknown} (known: {list(allowed)})")


def _edit_texts(
    tree: ast.Module, lines: list[str], lineno: int, operators: Sequence[str]
) -> Iterator[tuple[str, str]]:
    """(operator, new line) for every edit of line ``lineno`` that passes the tree check."""
    line = lines[lineno - 1]
    ctx = _context(tree, lineno)
    sites = [s for s in _walk(tree) if _on_line(s.node, lineno)]
    for operator in operators:
        if operator == "delete":
            continue
        function = _OPERATOR_FUNCTIONS[operator]
        for site in sites:
            for new in function(site, ctx):
                text = _apply(tree, lines, lineno, line, site, new)
                if text is not None:
                    yield operator, text


def _apply(
    tree: ast.Module, lines: list[str], lineno: int, line: str, site: _Site, new: ast.AST
) -> str | None:
    try:
        new = _normalised(new, site.node)
    except SyntaxError:
        return None
    expected = ast.dump(_replace_at(tree, site.path, new))
    if expected == ast.dump(tree):
        return None
    head, tail = _byte_span(line, site.node)
    replacement = ast.unparse(new)
    candidates = [replacement]
    if isinstance(new, ast.Tuple) and replacement.startswith("("):
        candidates.insert(0, replacement[1:-1])  # ``d[k, j]`` rather than ``d[(k, j)]``
    if isinstance(new, ast.expr):
        candidates.append(f"({replacement})")
    for candidate in candidates:
        text = (head + candidate.encode("utf-8") + tail).decode("utf-8")
        program = "\n".join([*lines[: lineno - 1], text, *lines[lineno:]])
        try:
            if ast.dump(ast.parse(program)) == expected:
                return text
        except SyntaxError:
            continue
    return None


def line_edits(
    source: str,
    lineno: int,
    max_candidates: int | None = None,
    operators: Sequence[str] = EDIT_OPERATORS,
) -> list[LineEdit]:
    """Every single-edit replacement of line ``lineno`` (1-based) of ``source``.

    Deduplicated by text (the first operator producing a line keeps it), never the original
    line, in ``operators`` order then site pre-order; at most ``max_candidates`` (the first
    ones). Raises ``MutationError`` when ``source`` does not parse or the line does not exist.
    """
    _check_operators(operators, EDIT_OPERATORS)
    tree = _parse(source, "program")
    lines = source.splitlines()
    if not 1 <= lineno <= len(lines):
        raise MutationError(f"line {lineno} is outside the program (1..{len(lines)})")
    if max_candidates is not None and max_candidates < 1:
        raise MutationError(f"max_candidates must be >= 1, got {max_candidates}")
    seen = {lines[lineno - 1]}
    edits: list[LineEdit] = []
    for operator, text in _edit_texts(tree, lines, lineno, operators):
        if text in seen:
            continue
        seen.add(text)
        edits.append(LineEdit(operator, text))
        if max_candidates is not None and len(edits) >= max_candidates:
            break
    return edits


def insertion_edits(
    source: str,
    before_line: int,
    indent: str,
    max_candidates: int | None = None,
    operators: Sequence[str] = EDIT_OPERATORS,
) -> list[LineEdit]:
    """Candidate lines to insert before line ``before_line`` at ``indent`` (a missing line).

    Each one-line expression or assignment statement of the innermost function around the
    place (module statements when there is none), in source order, is offered verbatim and
    with every single edit of ``line_edits`` (operator ``copy`` for the verbatim copy, else
    ``copy+<operator>``). Kept only when the program with the line inserted parses; deduplicated;
    at most ``max_candidates``.
    """
    tree = _parse(source, "program")
    lines = source.splitlines()
    if not 1 <= before_line <= len(lines) + 1:
        raise MutationError(f"insertion line {before_line} is outside 1..{len(lines) + 1}")
    if indent.strip():
        raise MutationError(f"indent must be blanks only, got {indent!r}")
    functions = [
        f for f in _enclosing_functions(tree, before_line) if not isinstance(f, ast.Lambda)
    ]
    scope: ast.AST = functions[-1] if functions else tree
    statements = [
        node
        for node in ast.walk(scope)
        if isinstance(node, _SIMPLE_STATEMENTS) and node.lineno == node.end_lineno
    ]
    statements.sort(key=lambda s: (s.lineno, s.col_offset))
    seen: set[str] = set()
    edits: list[LineEdit] = []
    for statement in statements:
        original = lines[statement.lineno - 1]
        offered = [LineEdit("copy", original)] + [
            LineEdit(f"copy+{e.operator}", e.text)
            for e in line_edits(source, statement.lineno, operators=operators)
        ]
        for edit in offered:
            text = indent + edit.text.strip()
            if text in seen:
                continue
            seen.add(text)
            program = "\n".join([*lines[: before_line - 1], text, *lines[before_line - 1 :]])
            try:
                ast.parse(program)
            except SyntaxError:
                continue
            edits.append(LineEdit(edit.operator, text))
            if max_candidates is not None and len(edits) >= max_candidates:
                return edits
    return edits


# ---------------------------------------------------------------------------------------------
# Injector


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def _deletable(tree: ast.Module, lines: list[str]) -> Iterator[ast.stmt]:
    """One-line expression/assignment statements alone on their line, in blocks of >= 2."""
    source = "\n".join(lines)
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list) or len(block) < 2:
                continue
            for statement in block:
                if (
                    isinstance(statement, _SIMPLE_STATEMENTS)
                    and not _is_docstring(statement)
                    and statement.lineno == statement.end_lineno
                    and lines[statement.lineno - 1].strip()
                    == ast.get_source_segment(source, statement)
                ):
                    yield statement


def program_mutants(source: str, operators: Sequence[str] = INJECTOR_OPERATORS) -> list[Mutant]:
    """All single-edit mutants of ``source`` (every line, every operator), deduplicated by
    mutated program, ordered by line, then operator, then site."""
    _check_operators(operators, INJECTOR_OPERATORS)
    tree = _parse(source, "program")
    lines = source.splitlines()
    trailing = "\n" if source.endswith("\n") else ""
    by_line: dict[int, list[Mutant]] = {}
    line_operators = [o for o in operators if o != "delete"]
    code_lines = sorted({n.lineno for n in ast.walk(tree) if _on_line(n, getattr(n, "lineno", 0))})
    for lineno in code_lines:
        for operator, text in _edit_texts(tree, lines, lineno, line_operators):
            program = "\n".join([*lines[: lineno - 1], text, *lines[lineno:]]) + trailing
            by_line.setdefault(lineno, []).append(
                Mutant(operator, lineno, lines[lineno - 1], text, program)
            )
    if "delete" in operators:
        for statement in sorted(_deletable(tree, lines), key=lambda s: s.lineno):
            lineno = statement.lineno
            program = "\n".join([*lines[: lineno - 1], *lines[lineno:]]) + trailing
            try:
                ast.parse(program)
            except SyntaxError:
                continue
            by_line.setdefault(lineno, []).append(
                Mutant("delete", lineno, lines[lineno - 1], None, program)
            )
    seen = {source}
    mutants = []
    for lineno in sorted(by_line):
        for mutant in sorted(by_line[lineno], key=lambda m: OPERATORS.index(m.operator)):
            if mutant.source not in seen:
                seen.add(mutant.source)
                mutants.append(mutant)
    return mutants


def sample_mutants(
    source: str,
    n: int,
    seed: int,
    operators: Sequence[str] = INJECTOR_OPERATORS,
) -> list[Mutant]:
    """``n`` distinct mutants (all of them when there are fewer) drawn without replacement
    with ``numpy.random.default_rng(seed)``, returned in ``program_mutants`` order."""
    if n < 0:
        raise MutationError(f"n must be >= 0, got {n}")
    mutants = program_mutants(source, operators)
    if n >= len(mutants):
        return mutants
    chosen = np.random.default_rng(seed).choice(len(mutants), size=n, replace=False)
    return [mutants[i] for i in sorted(int(i) for i in chosen)]
