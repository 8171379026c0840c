"""A safe arithmetic language for custom price formulas.

Example: ``max(0, usage("api_calls") - 1000) * 0.002 + seats * 12``.

How it stays safe: the text is parsed with :func:`ast.parse` (which only builds a tree and
runs nothing), then a whitelist walker turns each allowed node into a small closure of this
module (a number, a variable lookup, ``a + b`` ...). Anything not on the list is refused at
compile time, before a single value is computed. Evaluation calls those closures only;
``eval``, ``exec`` and ``compile`` are never called, and no Python object is ever looked up
by a name taken from the formula.

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
import decimal
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple, cast

__all__ = ["MAX_DEPTH", "MAX_EXPONENT", "MAX_LENGTH", "Formula", "FormulaError", "compile_formula"]

MAX_LENGTH = 1000
MAX_DEPTH = 50
MAX_EXPONENT = 10
_MAX_ROUND_DIGITS = 10

# A private context: the caller's Decimal settings cannot change a price, and an arithmetic
# fault (overflow, 0/0) raises instead of quietly producing NaN or Infinity.
_CONTEXT = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
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
_ARITHMETIC: dict[type[ast.operator], Callable[[Decimal, Decimal], Decimal]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARISONS: dict[type[ast.cmpop], Callable[[Decimal, Decimal], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
# Only for error messages: the symbols people typed.
_REFUSED_SYMBOLS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Invert: "~",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (like x.y) is not allowed",
    ast.Subscript: "indexing (like x[0]) is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "* unpacking is not allowed",
    **dict.fromkeys(
        (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp),
        "comprehensions are not allowed",
    ),
    **dict.fromkeys((ast.List, ast.Tuple, ast.Set, ast.Dict), "collections are not allowed"),
    **dict.fromkeys((ast.Await, ast.Yield, ast.YieldFrom), "await and yield are not allowed"),
}


class FormulaError(ValueError):
    """A formula that cannot be compiled or evaluated; ``position`` is a 0-based offset."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = "" if position is None else f" (at position {position})"
        super().__init__(f"{message}{where}")
        self.message = message
        self.position = position


class _Inputs(NamedTuple):
    """The values one evaluation may read: named variables and usage per meter key."""

    variables: Mapping[str, Decimal]
    usage: Mapping[str, Decimal]


def _read(values: Mapping[str, Decimal], key: str, *, what: str, position: int) -> Decimal:
    if key not in values:
        raise FormulaError(f"missing {what} {key!r}", position)
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{what} {key!r} must be a Decimal, not {type(value).__name__}")
    return Decimal(value)


# A compiled node: a closure from the inputs to a number (or, for a condition, a bool).
_Number = Callable[[_Inputs], Decimal]
_Condition = Callable[[_Inputs], bool]
_Code = _Number | _Condition  # which one: the kind that comes with it
_NUMBER_KIND, _CONDITION_KIND = "number", "condition"


@dataclass(frozen=True)
class Formula:
    """A compiled formula. Build it with :func:`compile_formula`; evaluate it any number of times."""

    text: str
    #: The variable names the formula reads (the caller must supply each one).
    variables: frozenset[str]
    #: The meter keys passed to ``usage(...)`` (the caller can check that each meter exists).
    meters: frozenset[str]
    _code: _Code = field(repr=False, compare=False)

    def evaluate(
        self,
        variables: Mapping[str, Decimal] | None = None,
        usage: Mapping[str, Decimal] | None = None,
    ) -> Decimal:
        """The formula's value for these inputs, computed at 28 significant digits.

        Raises :class:`FormulaError` for a missing variable or meter, division by zero, or a
        result too large to represent; ``TypeError`` for a float input.
        """
        inputs = _Inputs(variables or {}, usage or {})
        with decimal.localcontext(_CONTEXT):
            try:
                value = self._code(inputs)
            except decimal.DecimalException:
                raise FormulaError("the result is too large or undefined") from None
        assert isinstance(value, Decimal)  # compile_formula only accepts number-valued roots
        return value


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
    code = compiler.number(tree.body, depth=1)
    return Formula(
        text=text,
        variables=frozenset(compiler.variables),
        meters=frozenset(compiler.meters),
        _code=code,
    )


def _offset(text: str, line: int, column: int) -> int:
    """The 0-based character offset of (1-based line, 0-based column) in ASCII ``text``."""
    return sum(len(row) + 1 for row in text.split("\n")[: line - 1]) + column


def _syntax_position(text: str, error: SyntaxError) -> int | None:
    if error.lineno is None or error.offset is None:
        return None
    return max(0, min(_offset(text, error.lineno, error.offset - 1), len(text)))


def _symbol(op: ast.AST) -> str:
    return _REFUSED_SYMBOLS.get(type(op), type(op).__name__)


class _Compiler:
    """Turn a whitelisted ``ast`` tree into closures, checking numbers and conditions apart."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.variables: set[str] = set()
        self.meters: set[str] = set()

    def position(self, node: ast.AST) -> int:
        # The text is ASCII (checked earlier), so ast's byte offsets are character offsets.
        return _offset(self.text, node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def fail(self, message: str, node: ast.AST) -> FormulaError:
        return FormulaError(message, self.position(node))

    def number(self, node: ast.AST, depth: int) -> _Number:
        code, kind = self.node(node, depth)
        if kind != _NUMBER_KIND:
            raise self.fail("expected a number here, not a condition", node)
        return cast(_Number, code)

    def condition(self, node: ast.AST, depth: int) -> _Condition:
        code, kind = self.node(node, depth)
        if kind != _CONDITION_KIND:
            raise self.fail("expected a condition (a comparison) here, not a number", node)
        return cast(_Condition, code)

    def node(self, node: ast.AST, depth: int) -> tuple[_Code, str]:
        if depth > MAX_DEPTH:
            raise self.fail(f"formula is nested too deeply (more than {MAX_DEPTH} levels)", node)
        inner = depth + 1
        match node:
            case ast.Constant():
                value = self.constant(node)
                return (lambda _inputs: value), _NUMBER_KIND
            case ast.Name():
                return self.name(node), _NUMBER_KIND
            case ast.BinOp(op=ast.Pow()):
                return self.power(node, inner), _NUMBER_KIND
            case ast.BinOp():
                return self.arithmetic(node, inner), _NUMBER_KIND
            case ast.UnaryOp(op=ast.USub()):
                operand = self.number(node.operand, inner)
                return (lambda inputs: -operand(inputs)), _NUMBER_KIND
            case ast.UnaryOp(op=ast.UAdd()):
                return self.number(node.operand, inner), _NUMBER_KIND
            case ast.UnaryOp(op=ast.Not()):
                negated = self.condition(node.operand, inner)
                return (lambda inputs: not negated(inputs)), _CONDITION_KIND
            case ast.UnaryOp():
                raise self.fail(f"operator {_symbol(node.op)} is not allowed", node)
            case ast.BoolOp():
                parts = [self.condition(value, inner) for value in node.values]
                combine = all if isinstance(node.op, ast.And) else any
                return (lambda inputs: combine(part(inputs) for part in parts)), _CONDITION_KIND
            case ast.Compare():
                return self.compare(node, inner), _CONDITION_KIND
            case ast.IfExp():
                test = self.condition(node.test, inner)
                then, otherwise = self.number(node.body, inner), self.number(node.orelse, inner)
                return (
                    lambda inputs: then(inputs) if test(inputs) else otherwise(inputs)
                ), _NUMBER_KIND
            case ast.Call():
                return self.call(node, inner), _NUMBER_KIND
        message = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed in a formula")
        raise self.fail(message, node)

    def constant(self, node: ast.Constant) -> Decimal:
        if isinstance(node.value, str):
            raise self.fail('text is only allowed as the meter key in usage("...")', node)
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise self.fail(f"the constant {node.value!r} is not allowed", node)
        # The value ast parsed may already be a float; read the digits from the text instead.
        source = ast.get_source_segment(self.text, node) or ""
        if not _NUMBER.fullmatch(source):
            raise self.fail(f"write numbers as plain decimals like 12 or 0.5, not {source}", node)
        return Decimal(source.replace("_", ""))

    def name(self, node: ast.Name) -> _Number:
        name, position = node.id, self.position(node)
        if name.startswith("_"):
            raise self.fail(f"names starting with '_' are not allowed: {name}", node)
        if name in _ARITY:
            raise self.fail(f"{name} is a function; call it like {name}(...)", node)
        self.variables.add(name)
        return lambda inputs: _read(inputs.variables, name, what="variable", position=position)

    def arithmetic(self, node: ast.BinOp, depth: int) -> _Number:
        apply = _ARITHMETIC.get(type(node.op))
        if apply is None:
            raise self.fail(f"operator {_symbol(node.op)} is not allowed", node)
        left, right = self.number(node.left, depth), self.number(node.right, depth)
        if not isinstance(node.op, ast.Div):
            return lambda inputs: apply(left(inputs), right(inputs))
        position = self.position(node.right)

        def divide(inputs: _Inputs) -> Decimal:
            dividend, divisor = left(inputs), right(inputs)
            if divisor == 0:
                raise FormulaError("division by zero: the divisor is 0", position)
            return dividend / divisor

        return divide

    def power(self, node: ast.BinOp, depth: int) -> _Number:
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
        base, power = self.number(node.left, depth), exponent.value
        return lambda inputs: _power(base(inputs), power)

    def compare(self, node: ast.Compare, depth: int) -> _Condition:
        tests = []
        for op in node.ops:
            test = _COMPARISONS.get(type(op))
            if test is None:
                raise self.fail(f"comparison {_symbol(op)} is not allowed", node)
            tests.append(test)
        operands = [self.number(value, depth) for value in [node.left, *node.comparators]]

        def chain(inputs: _Inputs) -> bool:
            # Like Python: a < b < c stops at the first false link.
            left = operands[0](inputs)
            for test, operand in zip(tests, operands[1:], strict=True):
                right = operand(inputs)
                if not test(left, right):
                    return False
                left = right
            return True

        return chain

    def call(self, node: ast.Call, depth: int) -> _Number:
        allowed = ", ".join(sorted(_ARITY))
        if not isinstance(node.func, ast.Name):
            # Report what the callee is (x.y, a lambda ...) when that is itself refused.
            self.node(node.func, depth)
            raise self.fail(f"only these functions can be called: {allowed}", node.func)
        name = node.func.id
        if name not in _ARITY:
            raise self.fail(f"unknown function {name!r}; allowed: {allowed}", node.func)
        if node.keywords:
            raise self.fail(f"{name}() takes no keyword arguments", node)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail(_REFUSED[ast.Starred], arg)
        low, high = _ARITY[name]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            expected = {None: f"{low} or more", low: f"{low}"}.get(high, f"{low} or {high}")
            noun = "argument" if expected == "1" else "arguments"
            raise self.fail(f"{name}() takes {expected} {noun}", node)
        if name == "usage":
            return self.usage(node.args[0])
        args = [self.number(arg, depth) for arg in node.args]
        if name == "round":
            return self.rounding(node, args)
        function = _FUNCTIONS[name]
        return lambda inputs: function(*[arg(inputs) for arg in args])

    def rounding(self, node: ast.Call, args: list[_Number]) -> _Number:
        digits = 0
        if len(node.args) == 2:
            literal = node.args[1]
            if not (
                isinstance(literal, ast.Constant)
                and type(literal.value) is int
                and literal.value <= _MAX_ROUND_DIGITS
            ):
                raise self.fail(f"round() digits must be a literal 0..{_MAX_ROUND_DIGITS}", literal)
            digits = literal.value
        step = Decimal(1).scaleb(-digits)
        value = args[0]
        # Half-up, like money rounding, not Python's round-half-even.
        return lambda inputs: value(inputs).quantize(step, rounding=decimal.ROUND_HALF_UP)

    def usage(self, node: ast.AST) -> _Number:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            raise self.fail('usage() takes a quoted meter key: usage("api_calls")', node)
        key, position = node.value, self.position(node)
        if not _METER_KEY.fullmatch(key):
            raise self.fail(f"invalid meter key {key!r}", node)
        self.meters.add(key)
        return lambda inputs: _read(inputs.usage, key, what="usage for meter", position=position)


def _power(base: Decimal, exponent: int) -> Decimal:
    # 0**0 is 1 as in ordinary arithmetic (Decimal calls it undefined).
    return base**exponent if exponent else Decimal(1)


_FUNCTIONS: dict[str, Callable[..., Decimal]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "ceil": lambda value: value.to_integral_value(rounding=decimal.ROUND_CEILING),
    "floor": lambda value: value.to_integral_value(rounding=decimal.ROUND_FLOOR),
}
