"""A safe arithmetic language for custom price formulas.

Example: ``max(0, usage("api_calls") - 1000) * 0.002 + seats * 12``.

How it stays safe: the text is parsed with :func:`ast.parse` (which only builds a tree and
runs nothing), then a whitelist walker translates each allowed node into this module's own
small expression tree. Anything not on the list is refused at compile time, before a
single value is computed. Evaluation walks that private tree; ``eval``, ``exec`` and
``compile`` are never called and no Python object is ever looked up by name.

The language:

* numbers: plain decimal literals (``12``, ``0.002``, ``1_000``), read from the source text
  straight into ``Decimal`` (never through float); no exponent, hex or complex forms;
* names: variables supplied at evaluation (``seats``); names starting with ``_`` are refused;
* ``+ - * /``, unary ``-``/``+``, parentheses; ``**`` only with a literal whole-number exponent
  from 0 to 10 (so ``9**9**9`` cannot exhaust the machine);
* comparisons (``< <= > >= == !=``, chained), ``and``/``or``/``not``, and ``a if cond else b``;
  conditions and numbers are checked apart at compile time (``1 + (a > b)`` is refused);
* functions: ``min(a, b, ...)``, ``max(a, b, ...)``, ``abs(x)``, ``ceil(x)``, ``floor(x)``,
  ``round(x)`` / ``round(x, digits)`` (half-up, digits a literal 0..10), and
  ``usage("meter_key")`` -- the only place a string may appear;
* limits: at most 1000 characters, ASCII only, at most 50 levels of nesting.

Errors are :class:`FormulaError` with a ``position``: the 0-based character offset in the text.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

__all__ = ["MAX_DEPTH", "MAX_EXPONENT", "MAX_LENGTH", "Formula", "FormulaError", "compile_formula"]

MAX_LENGTH = 1000
MAX_DEPTH = 50
MAX_EXPONENT = 10
_MAX_ROUND_DIGITS = 10

# A private context: the caller's Decimal settings cannot change a price, and an arithmetic
# fault (overflow, 0/0) raises instead of quietly producing NaN or Infinity.
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
_NUMBER = re.compile(r"(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)")
_METER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}")
_ARITY: dict[str, tuple[int, int | None]] = {
    "min": (2, None),
    "max": (2, None),
    "abs": (1, 1),
    "ceil": (1, 1),
    "floor": (1, 1),
    "round": (1, 2),
    "usage": (1, 1),
}
_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARISONS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
# Only for error messages: the symbols people typed.
_OTHER_SYMBOLS = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}
_REFUSED = {
    ast.Attribute: "attribute access (like x.y) is not allowed",
    ast.Subscript: "indexing (like x[0]) is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "* unpacking is not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}


class FormulaError(ValueError):
    """A formula that cannot be compiled or evaluated; ``position`` is a 0-based offset."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = "" if position is None else f" (at position {position})"
        super().__init__(f"{message}{where}")
        self.message = message
        self.position = position


# The private expression tree. Each node keeps its source position for evaluation errors.
@dataclass(frozen=True, slots=True)
class _Num:
    value: Decimal


@dataclass(frozen=True, slots=True)
class _Var:
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class _Unary:
    op: str  # "-", "+" or "not"
    operand: _Node


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str  # "+", "-", "*", "/" or "**"
    left: _Node
    right: _Node
    position: int


@dataclass(frozen=True, slots=True)
class _Compare:
    ops: tuple[str, ...]
    operands: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Logic:
    op: str  # "and" or "or"
    values: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Choice:
    test: _Node
    then: _Node
    otherwise: _Node


@dataclass(frozen=True, slots=True)
class _Usage:
    key: str
    position: int


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[_Node, ...]
    position: int


_Node = _Num | _Var | _Usage | _Unary | _Binary | _Compare | _Logic | _Choice | _Call

_NUMBER_KIND, _CONDITION_KIND = "number", "condition"


@dataclass(frozen=True)
class Formula:
    """A compiled formula. Build it with :func:`compile_formula`; evaluate it any number of times."""

    text: str
    #: The variable names the formula reads (the caller must supply each one).
    variables: frozenset[str]
    #: The meter keys passed to ``usage(...)`` (the caller can check that each meter exists).
    meters: frozenset[str]
    _root: _Node

    def evaluate(
        self,
        variables: Mapping[str, Decimal] | None = None,
        usage: Mapping[str, Decimal] | None = None,
    ) -> Decimal:
        """The formula's value for these inputs.

        Raises :class:`FormulaError` for a missing variable or meter, division by zero, or a
        result too large to represent; ``TypeError`` for a float input.
        """
        runner = _Evaluator(variables or {}, usage or {})
        with localcontext(_CONTEXT):
            return runner.run(self._root)


def compile_formula(text: str) -> Formula:
    """Parse and check ``text``; the result can only do what the module docstring lists.

    Raises :class:`FormulaError` naming the first problem and where it is. Nothing in the
    text is executed, whether or not it compiles.
    """
    if not isinstance(text, str):
        raise FormulaError("a formula must be text")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    for position, char in enumerate(text):
        if not (char.isascii() and (char.isprintable() or char in " \t\n")):
            raise FormulaError(f"character {char!r} is not allowed", position)
    if not text.strip():
        raise FormulaError("formula is empty", 0)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"syntax error: {error.msg}", _syntax_position(text, error)) from None
    except (RecursionError, MemoryError):
        raise FormulaError("formula is too complex to parse", 0) from None
    compiler = _Compiler(text)
    root, kind = compiler.node(tree.body, depth=1)
    if kind != _NUMBER_KIND:
        raise FormulaError("a formula must produce a number, not a condition", 0)
    return Formula(
        text=text,
        variables=frozenset(compiler.variables),
        meters=frozenset(compiler.meters),
        _root=root,
    )


def _symbol(op: ast.AST) -> str:
    return _OTHER_SYMBOLS.get(type(op), type(op).__name__)


def _syntax_position(text: str, error: SyntaxError) -> int | None:
    if error.lineno is None or error.offset is None:
        return None
    lines = text.split("\n")
    before = sum(len(line) + 1 for line in lines[: error.lineno - 1])
    return max(0, min(before + error.offset - 1, len(text)))


class _Compiler:
    """Translate a whitelisted ``ast`` tree into the private tree, checking kinds."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0]
        for line in text.split("\n"):
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)
        self.variables: set[str] = set()
        self.meters: set[str] = set()

    def position(self, node: ast.AST) -> int:
        # The text is ASCII (checked earlier), so ast's byte offsets are character offsets.
        return self.line_starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]

    def fail(self, message: str, node: ast.AST) -> FormulaError:
        return FormulaError(message, self.position(node))

    def number(self, node: ast.AST, depth: int) -> _Node:
        compiled, kind = self.node(node, depth)
        if kind != _NUMBER_KIND:
            raise self.fail("expected a number here, not a condition", node)
        return compiled

    def condition(self, node: ast.AST, depth: int) -> _Node:
        compiled, kind = self.node(node, depth)
        if kind != _CONDITION_KIND:
            raise self.fail("expected a condition (a comparison) here, not a number", node)
        return compiled

    def node(self, node: ast.AST, depth: int) -> tuple[_Node, str]:
        if depth > MAX_DEPTH:
            raise self.fail(f"formula is nested too deeply (more than {MAX_DEPTH} levels)", node)
        inner = depth + 1
        match node:
            case ast.Constant():
                return self.constant(node), _NUMBER_KIND
            case ast.Name():
                return self.name(node), _NUMBER_KIND
            case ast.BinOp(op=ast.Pow()):
                return self.power(node, inner), _NUMBER_KIND
            case ast.BinOp():
                symbol = _ARITHMETIC.get(type(node.op))
                if symbol is None:
                    raise self.fail(f"operator {_symbol(node.op)} is not allowed", node)
                left, right = self.number(node.left, inner), self.number(node.right, inner)
                # Evaluation errors (division by zero) point at the right operand.
                return _Binary(symbol, left, right, self.position(node.right)), _NUMBER_KIND
            case ast.UnaryOp(op=ast.USub() | ast.UAdd()):
                sign = "-" if isinstance(node.op, ast.USub) else "+"
                return _Unary(sign, self.number(node.operand, inner)), _NUMBER_KIND
            case ast.UnaryOp(op=ast.Not()):
                return _Unary("not", self.condition(node.operand, inner)), _CONDITION_KIND
            case ast.UnaryOp():
                raise self.fail(f"operator {_symbol(node.op)} is not allowed", node)
            case ast.BoolOp():
                op = "and" if isinstance(node.op, ast.And) else "or"
                values = tuple(self.condition(value, inner) for value in node.values)
                return _Logic(op, values), _CONDITION_KIND
            case ast.Compare():
                return self.compare(node, inner), _CONDITION_KIND
            case ast.IfExp():
                test = self.condition(node.test, inner)
                then, otherwise = self.number(node.body, inner), self.number(node.orelse, inner)
                return _Choice(test, then, otherwise), _NUMBER_KIND
            case ast.Call():
                return self.call(node, inner), _NUMBER_KIND
        message = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed in a formula")
        raise self.fail(message, node)

    def constant(self, node: ast.Constant) -> _Num:
        if isinstance(node.value, str):
            raise self.fail('text is only allowed as the meter key in usage("...")', node)
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise self.fail(f"the constant {node.value!r} is not allowed", node)
        source = ast.get_source_segment(self.text, node) or ""
        if not _NUMBER.fullmatch(source):
            raise self.fail(f"write numbers as plain decimals like 12 or 0.5, not {source}", node)
        return _Num(Decimal(source.replace("_", "")))

    def name(self, node: ast.Name) -> _Var:
        if node.id.startswith("_"):
            raise self.fail(f"names starting with '_' are not allowed: {node.id}", node)
        if node.id in _ARITY:
            raise self.fail(f"{node.id} is a function; call it like {node.id}(...)", node)
        self.variables.add(node.id)
        return _Var(node.id, self.position(node))

    def power(self, node: ast.BinOp, depth: int) -> _Binary:
        exponent = node.right
        source = ast.get_source_segment(self.text, exponent) or ""
        if not (
            isinstance(exponent, ast.Constant)
            and type(exponent.value) is int
            and source.isdigit()
            and exponent.value <= MAX_EXPONENT
        ):
            raise self.fail(
                f"** takes only a literal whole-number exponent from 0 to {MAX_EXPONENT}",
                exponent,
            )
        base = self.number(node.left, depth)
        return _Binary("**", base, _Num(Decimal(exponent.value)), self.position(exponent))

    def compare(self, node: ast.Compare, depth: int) -> _Compare:
        ops = []
        for op in node.ops:
            symbol = _COMPARISONS.get(type(op))
            if symbol is None:
                raise self.fail(f"comparison {_symbol(op)} is not allowed", node)
            ops.append(symbol)
        operands = tuple(self.number(value, depth) for value in [node.left, *node.comparators])
        return _Compare(tuple(ops), operands)

    def call(self, node: ast.Call, depth: int) -> _Call | _Usage:
        allowed = ", ".join(sorted(_ARITY))
        if not isinstance(node.func, ast.Name):
            raise self.fail(f"only these functions can be called: {allowed}", node.func)
        name = node.func.id
        if name not in _ARITY:
            raise self.fail(f"unknown function {name!r}; allowed: {allowed}", node.func)
        if node.keywords:
            raise self.fail(f"{name}() takes no keyword arguments", node)
        low, high = _ARITY[name]
        count = len(node.args)
        if count < low or (high is not None and count > high):
            expected = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
            raise self.fail(f"{name}() takes {expected} arguments, got {count}", node)
        if name == "usage":
            return self.meter_key(node.args[0])
        args = [self.number(arg, depth) for arg in node.args]
        if name == "round" and count == 2:
            digits = node.args[1]
            if not (isinstance(digits, ast.Constant) and type(digits.value) is int
                    and digits.value <= _MAX_ROUND_DIGITS):
                raise self.fail(f"round() digits must be a literal 0 to {_MAX_ROUND_DIGITS}", digits)
        return _Call(name, tuple(args), self.position(node))

    def meter_key(self, node: ast.AST) -> _Usage:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            raise self.fail('usage() takes the meter key as a quoted literal: usage("api_calls")', node)
        if not _METER_KEY.fullmatch(node.value):
            raise self.fail(f"invalid meter key {node.value!r}", node)
        self.meters.add(node.value)
        return _Usage(node.value, self.position(node))


class _Evaluator:
    """Walk the private tree. Only ``Decimal`` and ``bool`` values ever exist here."""

    def __init__(self, variables: Mapping[str, Decimal], usage: Mapping[str, Decimal]) -> None:
        self.variables = variables
        self.usage = usage

    def run(self, root: _Node) -> Decimal:
        try:
            value = self.eval(root)
        except DecimalException:
            raise FormulaError("the result is too large or undefined") from None
        assert isinstance(value, Decimal)
        return value

    def lookup(self, table: Mapping[str, Decimal], key: str, what: str, position: int) -> Decimal:
        if key not in table:
            raise FormulaError(f"missing {what} {key!r}", position)
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"{what} {key!r} must be a Decimal, not {type(value).__name__}")
        return Decimal(value)

    def eval(self, node: _Node) -> Decimal | bool:
        match node:
            case _Num(value):
                return value
            case _Var(name, position):
                return self.lookup(self.variables, name, "variable", position)
            case _Unary(op, operand):
                value = self.eval(operand)
                return (not value) if op == "not" else (-value if op == "-" else +value)
            case _Binary(op, left, right, position):
                return self.arithmetic(op, self.eval(left), self.eval(right), position)
            case _Compare(ops, operands):
                values = [self.eval(operand) for operand in operands]
                return all(
                    _COMPARE[op](a, b) for op, a, b in zip(ops, values, values[1:], strict=False)
                )
            case _Logic("and", values):
                return all(self.eval(value) for value in values)
            case _Logic(_, values):
                return any(self.eval(value) for value in values)
            case _Choice(test, then, otherwise):
                return self.eval(then) if self.eval(test) else self.eval(otherwise)
            case _Usage(key, position):
                return self.lookup(self.usage, key, "usage for meter", position)
            case _Call(name, args, _):
                return _FUNCTIONS[name](*[self.eval(arg) for arg in args])
        raise AssertionError(f"unknown node {node!r}")

    @staticmethod
    def arithmetic(op: str, left: Decimal, right: Decimal, position: int) -> Decimal:
        if op == "/" and right == 0:
            raise FormulaError("division by zero: the divisor is 0", position)
        if op == "**" and left == 0 and right == 0:
            return Decimal(1)  # 0**0 is 1, as in ordinary arithmetic (Decimal calls it undefined)
        return _ARITHMETIC_OPS[op](left, right)


def _round(value: Decimal, digits: Decimal = Decimal(0)) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-int(digits)), rounding=ROUND_HALF_UP)


_ARITHMETIC_OPS: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a ** int(b),
}
_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_FUNCTIONS: dict[str, Callable[..., Decimal]] = {
    "min": lambda *values: min(values),
    "max": lambda *values: max(values),
    "abs": abs,
    "ceil": lambda value: value.to_integral_value(rounding=ROUND_CEILING),
    "floor": lambda value: value.to_integral_value(rounding=ROUND_FLOOR),
    "round": _round,
}
