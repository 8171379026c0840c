"""The sandbox that runs an organization's invoice template, and the PDF step after it.

Imports no Django: this module runs inside the render worker's child processes
(:mod:`invoicing.render_worker`), never in a web or Celery process. The documented context
and filters are in :mod:`invoicing.rendering`, which builds the context and calls the worker.

A template runs in Jinja's immutable sandbox: autoescaped; no loader (``include``/``import``/
``extends`` are refused before anything runs); ``StrictUndefined``; no ``cycler``/``joiner``/
``lipsum``; ``str.translate`` refused. Whatever goes wrong raises :class:`TemplateError`
(readable message + template line), nothing else -- except ``MemoryError``, which the worker
turns into its own message.

The bounds checked inside the sandbox (a refusal reads "Not allowed: ..."):

``MAX_SOURCE`` (100,000 characters)
    the length of the HTML template, and of its CSS.
``MAX_SEQUENCE`` (100,000)
    the longest string or list one operation may build: ``*``, ``+`` and ``~``;
    ``range()``; the ``join``, ``replace`` and ``indent`` filters and the ``join``,
    ``replace`` and ``expandtabs`` methods. It is also the largest width or count an
    operation takes: the ``center``, ``ljust``, ``rjust`` and ``zfill`` methods, the
    ``center``, ``wordwrap``, ``truncate``, ``batch`` and ``slice`` filters, and the
    widths and precisions of one format, added up (``%``, the ``format`` filter,
    ``str.format``, ``str.format_map``, nested fields such as ``{:{}}`` included).
``MAX_POWER_BITS`` (10,000)
    the largest integer ``**`` or ``*`` may build (about 3,000 digits).
``MAX_JSON_INDENT`` (8)
    the indent of the ``tojson`` filter.
``MAX_OUTPUT`` (5,000,000 characters)
    the HTML a template prints.
``MAX_RENDER_SECONDS`` (5 s, the caller may pass another value)
    checked before every call, attribute access, loop iteration and output chunk.

The ``sum`` filter adds numbers only (a list or string ``start`` is refused).

What these checks cannot see -- one slow operation, or memory built up piece by piece (a
``{% set %}`` block filled in a loop, a list of many big strings) -- is stopped from outside
by the worker's hard limits on time and memory (:mod:`invoicing.render_worker`).

The PDF is drawn by WeasyPrint with no base URL and a fetcher refusing all but ``data:``
URIs: no file, no network address (so a logo must be a ``data:`` URI).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import math
import re
import time
import types
from collections.abc import Callable
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from jinja2 import (
    StrictUndefined,
    TemplateRuntimeError,
    TemplateSyntaxError,
    Undefined,
    UndefinedError,
    nodes,
    pass_eval_context,
)
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.filters import FILTERS, make_attrgetter, sync_do_join
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
    SecurityError,
)
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from zenskar import formatting
from zenskar.money import as_decimal

__all__ = ["DEFAULT_LOCALE", "MAX_JSON_INDENT", "MAX_OUTPUT", "MAX_POWER_BITS",
           "MAX_RENDER_SECONDS", "MAX_SEQUENCE", "MAX_SOURCE", "DataOnlyURLFetcher",
           "TemplateError", "html_to_pdf", "plain_number", "render_html", "template_check"]

DEFAULT_LOCALE = "en_US"
MAX_SOURCE = 100_000  # characters of an HTML template, and of its CSS
MAX_SEQUENCE = 100_000  # longest string or list, largest width or count, of one operation
MAX_POWER_BITS = 10_000  # largest integer a template may build with "**" or "*"
MAX_JSON_INDENT = 8
MAX_OUTPUT = 5_000_000  # characters of HTML
MAX_RENDER_SECONDS = 5.0
_deadline: ContextVar[tuple[float, float]] = ContextVar(
    "invoice_template_deadline", default=(math.inf, MAX_RENDER_SECONDS))


class TemplateError(Exception):
    """A template that cannot be rendered: ``message`` for people, ``line`` (or None)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message, self.line = message, line
        super().__init__(f"Line {line}: {message}" if line else message)


class TemplateLimit(SecurityError):
    """One of the documented bounds refused an operation."""


def plain_number(value: Any) -> Decimal | None:
    """A stored number as a Decimal without trailing zeros (``25.0000000000`` -> ``25``)."""
    if value is None or value == "":
        return None
    if isinstance(value, float):  # a JSON number written by hand: its shortest repr
        value = str(value)
    number = as_decimal(value)
    return number.quantize(Decimal(1)) if number == number.to_integral() else number.normalize()


# --- the bounds ------------------------------------------------------------------------------


def _check_size(size: int, what: str, unit: str = "characters") -> None:
    if size > MAX_SEQUENCE:
        raise TemplateLimit(f"{what} would have {size:,} {unit}; the limit is {MAX_SEQUENCE:,}")


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_SEQUENCE:
        raise TemplateLimit(f"{what} is {width:,}; the limit is {MAX_SEQUENCE:,}")


def _check_deadline() -> None:
    deadline, seconds = _deadline.get()
    if time.monotonic() > deadline:
        raise TemplateLimit(f"the template took more than {seconds:g} s to render")


# A conversion specifier of printf-style formatting, and the start of a format() spec.
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?(.)", re.S)
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d*))?", re.S)


def _check_percent_format(text: str | bytes, what: str) -> None:
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    total = 0
    for width, precision, _ in _PERCENT_FIELD.findall(text):
        if "*" in (width, precision):
            raise TemplateLimit(f"a width or precision given by * in {what}; write the number "
                                "in the format")
        total += int(width or 0) + int(precision or 0)
    _check_format_total(total, what)


def _check_format_total(total: int, what: str) -> None:
    if total > MAX_SEQUENCE:
        raise TemplateLimit(f"the widths and precisions in {what} add up to {total:,}; the "
                            f"limit is {MAX_SEQUENCE:,}")


class _BoundedFormatter(SandboxedFormatter):
    """``str.format`` in the sandbox, refusing fields wider in total than ``MAX_SEQUENCE``
    (checked on each field's final spec, so ``{:{}}`` is checked too)."""

    _width = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._width = 0
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        match = _FORMAT_SPEC.match(format_spec)
        if match:
            self._width += int(match[1] or 0) + int(match[2] or 0)
            _check_format_total(self._width, "format()")
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, SandboxedEscapeFormatter):
    pass


_PADDING = frozenset({"center", "ljust", "rjust", "zfill"})


def _checked_text_method(method: Any, args: tuple, kwargs: dict) -> tuple:
    """The arguments for a call of ``method``, refused when it is a string method whose
    result would pass the bounds (``join`` gets its items as a list, measured)."""
    text, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not isinstance(text, str | bytes):
        return args
    if name in _PADDING and args:
        _check_width(args[0], f"the width of {name}()")
    elif name == "expandtabs":
        tab_size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab_size, int) and tab_size > 0:
            tabs = text.count("\t" if isinstance(text, str) else b"\t")
            _check_size(len(text) + tabs * tab_size, "the result of expandtabs()")
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else -1, "replace()")
    elif name == "join" and args:
        items = list(args[0])
        pieces = sum(len(item) for item in items if isinstance(item, str | bytes))
        _check_size(pieces + len(text) * max(len(items) - 1, 0), "the result of join()")
        return (items, *args[1:])
    return args


def _check_replace(text: Any, old: Any, new: Any, count: Any, what: str) -> None:
    if not all(isinstance(part, str) for part in (text, old, new)) and not all(
            isinstance(part, bytes) for part in (text, old, new)):
        return
    if len(new) <= len(old):
        return
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    _check_size(len(text) + times * (len(new) - len(old)), f"the result of {what}")


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# --- the bounded built-in filters --------------------------------------------------------------


def _bounded_filter(name: str, check: Callable[..., None]) -> Any:
    """Jinja's filter ``name``, run after ``check`` has seen its arguments (by name)."""
    original = FILTERS[name]
    if getattr(original, "jinja_async_variant", False):
        original = original.__wrapped__  # the synchronous filter: this environment is not async
    signature = inspect.signature(original)

    @functools.wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(*args, **kwargs)
        arguments.apply_defaults()
        check(**arguments.arguments)
        return original(*args, **kwargs)
    return bounded


def _check_indent(s: Any, width: Any, **_: Any) -> None:
    text = _as_text(s)
    step = len(width) if isinstance(width, str) else width
    if isinstance(step, int):
        _check_size(len(text) + (text.count("\n") + 1) * step, "the result of indent()")


def _check_wordwrap(s: Any, width: Any, wrapstring: Any, **_: Any) -> None:
    _check_width(width, "the width of wordwrap()")
    if isinstance(width, int) and width > 0:
        text = _as_text(s)
        breaks = len(text) // width + text.count("\n") + 1
        _check_size(len(text) + breaks * len(wrapstring or "\n"), "the result of wordwrap()")


def _check_tojson(indent: Any, **_: Any) -> None:
    size = len(indent) if isinstance(indent, str) else indent
    if isinstance(size, int) and size > MAX_JSON_INDENT:
        raise TemplateLimit(f"the indent of tojson() is {size:,}; the limit is {MAX_JSON_INDENT}")


def _check_sum(start: Any, **_: Any) -> None:
    if not isinstance(start, int | float | Decimal):
        raise TemplateLimit("sum() adds numbers; its start must be a number")


@pass_eval_context
def _join(eval_ctx: Any, value: Any, d: str = "", attribute: str | int | None = None) -> str:
    """Jinja's ``join``, measuring the result as it goes."""
    if attribute is not None:
        value = map(make_attrgetter(eval_ctx.environment, attribute), value)
    items: list[str] = []
    size, between = 0, len(_as_text(d))
    for item in value:
        items.append(_as_text(item))
        size += len(items[-1]) + (between if len(items) > 1 else 0)
        _check_size(size, "the result of join()")
    return sync_do_join(eval_ctx, items, d)


_BOUNDED_FILTERS = {
    "center": _bounded_filter("center", lambda width, **_: _check_width(
        width, "the width of center()")),
    "indent": _bounded_filter("indent", _check_indent),
    "wordwrap": _bounded_filter("wordwrap", _check_wordwrap),
    "truncate": _bounded_filter("truncate", lambda length, **_: _check_width(
        length, "the length of truncate()")),
    "batch": _bounded_filter("batch", lambda linecount, **_: _check_width(
        linecount, "the size of batch()")),
    "slice": _bounded_filter("slice", lambda slices, **_: _check_width(
        slices, "the number of slice()")),
    "format": _bounded_filter("format", lambda value, **_: _check_percent_format(
        _as_text(value), "the format filter")),
    "replace": _bounded_filter("replace", lambda s, old, new, count, **_: _check_replace(
        _as_text(s), _as_text(old), _as_text(new), count, "replace()")),
    "tojson": _bounded_filter("tojson", _check_tojson),
    "sum": _bounded_filter("sum", _check_sum),
    "join": _join,
}


def _range(*args: int) -> range:
    numbers = range(*args)
    _check_size(len(numbers), "range()", "numbers")
    return numbers


_LOOP_GUARD = "loop guard"  # a filter name no template can write: it has a space


def _each_before_deadline(iterable: Any) -> Any:
    """Wraps the iterable of every ``{% for %}``: an empty loop body sees the deadline too."""
    for item in iterable:
        _check_deadline()
        yield item


# --- the sandbox -----------------------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's compiler, with ``~`` sent through :meth:`_InvoiceSandbox.concat_bounded`."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 -- Jinja's
        self.write("environment.concat_bounded(context.eval_ctx, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class _InvoiceSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus the bounds of the module docstring and a deadline
    checked on every call, attribute access and loop iteration (endless loops)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr == "translate":  # a table can map a letter to a book
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return super().getattr(obj, attribute)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_deadline()
        args = _checked_text_method(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and ints:
            _check_bits(abs(left).bit_length() * right, "**")
        elif operator == "*" and ints:
            _check_bits(abs(left).bit_length() + abs(right).bit_length(), "*")
        elif operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | bytes | list | tuple) and isinstance(times, int):
                    _check_size(len(sequence) * times, "the result of *",
                                "characters" if isinstance(sequence, str | bytes) else "items")
        elif operator == "+" and isinstance(left, str | bytes | list | tuple) and isinstance(
                right, str | bytes | list | tuple):
            _check_size(len(left) + len(right), "the result of +",
                        "characters" if isinstance(left, str | bytes) else "items")
        elif operator == "%" and isinstance(left, str | bytes):
            _check_percent_format(left, "%")
        return super().call_binop(context, operator, left, right)

    def concat_bounded(self, eval_ctx: Any, parts: tuple) -> str:
        """``a ~ b``: the parts as text, measured, then joined as Jinja joins them."""
        texts = [part if isinstance(part, str) else str(part) for part in parts]
        _check_size(sum(map(len, texts)), "the result of ~")
        return (markup_join if eval_ctx.autoescape else str_join)(texts)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's ``str.format``/``format_map`` wrapper, with :class:`_BoundedFormatter`."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or (
                value.__name__ not in ("format", "format_map")) or not isinstance(
                value.__self__, str):
            return None
        text: str = value.__self__
        formatter = (_BoundedEscapeFormatter(self, escape=text.escape)
                     if isinstance(text, Markup) else _BoundedFormatter(self))
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return type(text)(formatter.vformat(text, args, kwargs))
        return functools.update_wrapper(wrapper, value)


def _check_bits(bits: int, operator: str) -> None:
    if bits > MAX_POWER_BITS:
        raise TemplateLimit(f"the result of {operator} would have about {bits:,} bits; the "
                            f"limit is {MAX_POWER_BITS:,}")


def _filter(function: Any) -> Any:
    """A filter that raises an undefined argument's own error (unknown name, unsafe
    attribute) and prints None (or "") as ""."""
    @functools.wraps(function)
    def checked(value: Any, *args: Any, **kwargs: Any) -> str:
        for argument in (value, *args, *kwargs.values()):
            if isinstance(argument, Undefined):
                argument._fail_with_undefined_error()
        return "" if value is None or value == "" else function(value, *args, **kwargs)
    return checked


@functools.lru_cache(maxsize=64)
def _environment(locale: str, invoice_currency: str) -> _InvoiceSandbox:
    env = _InvoiceSandbox(autoescape=True, undefined=StrictUndefined, loader=None, cache_size=0,
                          finalize=lambda value: "" if value is None else value)
    for name in ("cycler", "joiner", "lipsum"):
        env.globals.pop(name, None)
    env.globals["range"] = _range

    # The platform's formatters (zenskar.formatting), in the customer's locale.
    @_filter
    def money(amount: Any, currency: str | None = None, exact: bool = False) -> str:
        return formatting.format_money(as_decimal(amount), str(currency or invoice_currency),
                                       locale, exact=exact)

    @_filter
    def date(value: Any, format: str = "medium") -> str:
        return formatting.format_date(_as_date(value), locale=locale, style=format)

    @_filter
    def date_range(start: Any, end: Any, skeleton: str = "yMMMd") -> str:
        return formatting.format_period(_as_date(start), None if end is None else _as_date(end),
                                        locale=locale, style=skeleton)

    @_filter
    def quantity(value: Any) -> str:
        return formatting.format_quantity(plain_number(value), locale)

    env.filters.update(_BOUNDED_FILTERS)
    env.filters.update({_LOOP_GUARD: _each_before_deadline, "money": money, "date": date,
                        "date_range": date_range, "quantity": quantity})
    return env


def _as_date(value: Any) -> dt.date:
    value = dt.date.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(value, dt.date):
        raise TypeError(f"a date is needed, not {type(value).__name__}")
    return value.date() if isinstance(value, dt.datetime) else value


_FORBIDDEN_NODES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


def _compile(env: _InvoiceSandbox, source: str) -> Any:
    if len(source) > MAX_SOURCE:
        raise TemplateError(f"The template has {len(source):,} characters; the limit is "
                            f"{MAX_SOURCE:,}.")
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Syntax error: {exc.message}", exc.lineno) from None
    except MemoryError:
        raise
    except Exception:  # e.g. RecursionError on absurd nesting
        raise TemplateError("The template could not be read.") from None
    for node in tree.find_all(_FORBIDDEN_NODES):
        raise TemplateError("A template cannot include, import or extend another template or "
                            "file; everything must be in this one template.", node.lineno)
    for loop in list(tree.find_all(nodes.For)):
        loop.iter = nodes.Filter(loop.iter, _LOOP_GUARD, [], [], None, None,
                                 lineno=loop.iter.lineno).set_environment(env)
    try:
        return env.from_string(tree)
    except TemplateSyntaxError as exc:  # an unknown filter or test, found while compiling
        raise TemplateError(f"{(exc.message or 'Syntax error').rstrip('.')}. See the "
                            "documented context and filters.", exc.lineno) from None
    except MemoryError:
        raise
    except Exception:  # e.g. RecursionError in Python's own compiler
        raise TemplateError("The template could not be read.") from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, TemplateLimit):
        return f"Not allowed: {str(exc).rstrip('.')}."
    if isinstance(exc, SecurityError):
        return (f"Not allowed: {str(exc).rstrip('.')}. A template can only format and loop "
                "over the documented invoice data.")
    if isinstance(exc, UndefinedError):
        return (f"{(exc.message or '').rstrip('.')}. See the documented template context "
                "for the available names.")
    if isinstance(exc, TemplateRuntimeError):  # e.g. an unknown filter in a branch not taken
        return (f"{(exc.message or type(exc).__name__).rstrip('.')}. See the documented "
                "context and filters.")
    if isinstance(exc, TypeError | ValueError | ArithmeticError | LookupError):
        return str(exc) or type(exc).__name__  # a filter's or an operation's own words
    return f"{type(exc).__name__}: {exc}"


def _template_line(exc: BaseException) -> int | None:
    """The line of the innermost template frame (Jinja rewrites tracebacks to template lines)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _with_css(html: str, css: str) -> str:
    if not css.strip():
        return html
    style = "<style>\n" + css.replace("</", "<\\/") + "\n</style>\n"
    head_end = html.lower().find("</head>")
    return html[:head_end] + style + html[head_end:] if head_end >= 0 else style + html


def render_html(source: str, context: dict[str, Any], *, css: str = "",
                seconds: float = MAX_RENDER_SECONDS) -> str:
    """``source`` rendered with ``context`` (the documented one: it names the locale and the
    invoice's currency), the CSS inlined in a ``<style>``. Raises :class:`TemplateError`, or
    ``MemoryError``; stops after ``seconds`` (checked between operations)."""
    if len(css) > MAX_SOURCE:
        raise TemplateError(f"The CSS has {len(css):,} characters; the limit is "
                            f"{MAX_SOURCE:,}.")
    template = _compile(_environment(context["locale"], context["invoice"]["currency"]), source)
    token, size, parts = _deadline.set((time.monotonic() + seconds, seconds)), 0, []
    try:
        for part in template.generate(context):
            size += len(part)
            if size > MAX_OUTPUT:
                raise TemplateLimit(f"the output is longer than {MAX_OUTPUT:,} characters")
            _check_deadline()
            parts.append(part)
    except MemoryError:
        raise
    except Exception as exc:  # whatever the template did, the caller gets a TemplateError
        raise TemplateError(_describe(exc), _template_line(exc)) from exc
    finally:
        _deadline.reset(token)
    return _with_css("".join(parts), css)


def template_check(source: str, *, locale: str = DEFAULT_LOCALE) -> None:
    """Raise :class:`TemplateError` when ``source`` does not compile or reaches for another
    template (rendering errors need an invoice)."""
    _compile(_environment(locale, "USD"), source)


class DataOnlyURLFetcher(URLFetcher):
    """WeasyPrint's fetcher, refusing every URL but ``data:`` (no file, no network)."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.lower().startswith("data:"):
            raise ValueError(f"Refused to fetch {url[:80]!r}: only data: URIs are allowed.")
        return super().fetch(url, headers)


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html`` (A4 unless its CSS says otherwise); nothing is fetched but
    ``data:`` URIs."""
    return HTML(string=html, base_url=None, url_fetcher=DataOnlyURLFetcher()).write_pdf()
