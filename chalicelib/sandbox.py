"""The jinja2 sandbox for marketer templates: what a template may say, and how much it may do.

Checked twice: statically on the parsed AST at upload (names, attributes, filters, includes),
and at runtime by an `ImmutableSandboxedEnvironment` whose loops, calls, operators, filters,
tests and `in` draw on a per-render budget of operations, time and output size, so one bad
template fails alone with a `BadTemplate` instead of stalling or exhausting a send batch.
Work over a value is charged by its size before it is done (an operation per item, or per
`CHARS_PER_OP` characters of text), so `range(100000)|list|sort` runs out of operations before
sorting anything, and one template cannot spend the time of a batch on filter work.

`{% include %}`, `{% import %}` and `{% extends %}` are refused: no layouts ship yet, and CSS
inlining and text derivation need the whole document in one source. Shipping layouts means
allowing constant names under `templates/layouts/` and composing them before inlining.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, cast

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateSyntaxError,
    nodes,
    pass_eval_context,
)
from jinja2.filters import FILTERS
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from jinja2.visitor import NodeTransformer
from markupsafe import escape

from chalicelib.errors import BadTemplate

Part = Literal["subject", "html", "text"]

MAX_OUTPUT = 512 * 1024
"""Characters one rendered part (or any string built while rendering it) may hold."""
MAX_OPS = 100_000
"""Loop iterations, calls, filters, tests and intercepted operators one render may spend."""
CHARS_PER_OP = 4
"""Characters of text a filter, test, method or `in` goes through for one operation (items of a
list, dict or set cost one operation each: Python works through them one by one)."""
MAX_SECONDS = 0.25
MAX_INT_BITS = 4096

SAFE_FILTERS = frozenset(
    str.split(
        "abs capitalize count d default dictsort e escape first float int items join last "
        "length list lower map max min reject rejectattr replace reverse round select "
        "selectattr sort string striptags title trim truncate unique upper urlencode "
        "wordcount"
    )
)
"""Filters whose output grows at most linearly with their input (`join`, `replace` bounded)."""
SAFE_METHODS = frozenset(
    str.split(
        "upper lower title capitalize casefold swapcase strip lstrip rstrip startswith "
        "endswith split rsplit splitlines isalpha isdigit isalnum isspace islower isupper "
        "count index find get items keys values"
    )
)
"""Methods of str, list, dict and numbers a template may call; others (`center`, `format`…) not."""
_BUILTIN_VALUES = (str, bytes, int, float, list, tuple, dict, set, frozenset)
_COLLECTIONS = (list, tuple, dict, set, frozenset, range)
_BLOCKED_ATTRS = frozenset({"format", "format_map", "mro"})


class RenderLimit(Exception):
    """A render spent more operations, time or output than a template may."""


@dataclass
class _Budget:
    deadline: float
    ops: int = 0


_BUDGET: ContextVar[_Budget] = ContextVar("render_budget")


def _spend(ops: int = 1) -> None:
    """Charge `ops` before doing the work they pay for; the clock is looked at every time."""
    budget = _BUDGET.get()
    budget.ops += ops
    if budget.ops > MAX_OPS:
        raise RenderLimit(f"more than {MAX_OPS} operations (loop iterations, calls, filters)")
    if time.monotonic() > budget.deadline:
        raise RenderLimit(f"rendering took longer than {MAX_SECONDS} s")


def _cost(value: Any) -> int:
    if isinstance(value, str | bytes):
        return len(value) // CHARS_PER_OP
    return len(value) if isinstance(value, _COLLECTIONS) else 0


def _charge(values: Iterable[Any]) -> None:
    """One operation, plus what going through `values` costs."""
    _spend(1 + sum(_cost(value) for value in values))


def _materialised(value: Any) -> Any:
    """A lazy sequence (`map`, `select` output) read into a list, one operation per item, so
    the filter that consumes it is charged by its size too."""
    if not isinstance(value, Iterator):
        return value
    items = []
    for item in value:
        _spend()
        items.append(item)
    return items


def _charged(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter or test that pays for the size of what it is given before it runs."""

    @functools.wraps(function)  # keeps jinja's pass_eval_context / pass_context marks
    def charged(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_materialised(arg) for arg in args)
        _charge([*args, *kwargs.values()])
        return function(*args, **kwargs)

    return charged


def _check_size(size: int) -> None:
    if size > MAX_OUTPUT:
        raise RenderLimit(f"a value would grow beyond {MAX_OUTPUT} characters or items")


def _bounded(value: Any) -> Any:
    if isinstance(value, str | list | tuple):
        _check_size(len(value))
    return value


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse, before computing them, results that would be huge or slow."""
    if operator == "%" and isinstance(left, str):
        raise RenderLimit("string formatting with % is not allowed")
    if operator == "*":
        count, seq = (right, left) if isinstance(right, int) else (left, right)
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            _check_size(len(seq) * count)
    if operator in ("*", "**") and _int_bits(operator, left, right) > MAX_INT_BITS:
        raise RenderLimit(f"an integer beyond {MAX_INT_BITS} bits")


def _int_bits(operator: str, left: Any, right: Any) -> int:
    """An upper bound on the bits of an integer product or power (0 when not integers)."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return 0
    if operator == "*":
        return left.bit_length() + right.bit_length()
    return abs(left).bit_length() * right if abs(left) > 1 and right > 0 else 0


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _spend()
        _check_binop(operator, left, right)
        return _bounded(super().call_binop(context, operator, left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _charge([getattr(obj, "__self__", None), *args, *kwargs.values()])
        return super().call(context, obj, *args, **kwargs)

    def is_safe_callable(self, obj: Any) -> bool:
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, _BUILTIN_VALUES) and obj.__name__ not in SAFE_METHODS:
            return False
        return bool(super().is_safe_callable(obj))

    def concat(self, parts: Iterable[str]) -> str:
        """Join rendered chunks, failing as soon as they pass `MAX_OUTPUT`."""
        buffer, size = [], 0
        for part in parts:
            size += len(part)
            if size > MAX_OUTPUT:
                raise RenderLimit(f"output is larger than {MAX_OUTPUT} characters")
            buffer.append(part)
        return "".join(buffer)

    def budgeted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Every `{% for %}` iterates through this, one operation per item."""
        for item in iterable:
            _spend()
            yield item

    def bounded(self, value: Any) -> Any:
        """Every `~` concatenation passes through this."""
        return _bounded(value)

    def searched(self, container: Any) -> Any:
        """The right side of every `in` and `not in` passes through this, paying for its size."""
        _charge([container])
        return container


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Iterable[Any], separator: str = "") -> str:
    convert = escape if eval_ctx.autoescape else str
    parts, size = [], 0
    for item in value:
        part = convert(item)
        size += len(part) + len(separator)
        if size > MAX_OUTPUT:
            raise RenderLimit(f"join output is larger than {MAX_OUTPUT} characters")
        parts.append(part)
    return convert(separator).join(parts)


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old_text, new_text = str(s), str(old), str(new)
    growth = (text.count(old_text) if count is None else count) * len(new_text)
    _check_size(len(text) + growth)
    return str(FILTERS["replace"](eval_ctx, s, old, new, count))


def _environment(autoescape: bool) -> _Sandbox:
    env = _Sandbox(autoescape=autoescape, undefined=StrictUndefined, auto_reload=False)
    env.globals = {"range": safe_range, "dict": dict}
    filters = {name: FILTERS[name] for name in SAFE_FILTERS}
    filters.update(join=_join, replace=_replace)
    env.filters = {name: _charged(function) for name, function in filters.items()}
    tests = cast(dict[str, Callable[..., Any]], env.tests)
    env.tests = {name: _charged(function) for name, function in tests.items()}
    return env


_ENVIRONMENTS = {True: _environment(True), False: _environment(False)}


def _problem(node: nodes.Node) -> str | None:
    """What is wrong with one AST node of a marketer template, if anything."""
    match node:
        case nodes.Name(name=name) if name.startswith("_"):
            return f"names starting with '_' are not allowed ({name})"
        case nodes.Getattr(attr=attr) if attr.startswith("_") or attr in _BLOCKED_ATTRS:
            return f"attribute '.{attr}' is not allowed"
        case nodes.Getitem(arg=nodes.Const(value=str(key))) if key.startswith("_"):
            return f"item [{key!r}] is not allowed"
        case nodes.Filter(name=name) if name not in SAFE_FILTERS:
            return (
                f"filter |{name} is not available (use one of: {', '.join(sorted(SAFE_FILTERS))})"
            )
        case nodes.Extends() | nodes.Include() | nodes.Import() | nodes.FromImport():
            return "{% extends %}, {% include %} and {% import %} are not available in templates"
        case nodes.For(recursive=True):
            return "recursive loops are not allowed"
    return None


class _Instrument(NodeTransformer):
    """Route loops, `~` and `in` through the sandbox's budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _env_call("budgeted", node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("bounded", node)

    def visit_Operand(self, node: nodes.Operand) -> nodes.Node:
        self.generic_visit(node)
        if node.op in ("in", "notin"):
            node.expr = _env_call("searched", node.expr)
        return node


def _env_call(method: str, arg: nodes.Node) -> nodes.Call:
    line = arg.lineno
    return nodes.Call(
        nodes.EnvironmentAttribute(method, lineno=line), [arg], [], None, None, lineno=line
    )


def compile_part(source: str, part: Part) -> Template:
    """Parse, check and compile one template part; raise `BadTemplate` for anything disallowed."""
    env = _ENVIRONMENTS[part == "html"]
    try:
        tree = env.parse(source)
        for node in tree.find_all(nodes.Node):
            problem = _problem(node)
            if problem:
                raise BadTemplate(part, node.lineno, problem)
        code = env.compile(_Instrument().visit(tree), filename=_filename(part))
    except TemplateSyntaxError as exc:
        raise BadTemplate(part, exc.lineno, exc.message or "syntax error") from exc
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def render_part(template: Template, part: Part, context: Mapping[str, Any]) -> str:
    """Render within the budget; any failure of the template becomes a `BadTemplate`."""
    token = _BUDGET.set(_Budget(deadline=time.monotonic() + MAX_SECONDS))
    try:
        return template.render(context)
    except Exception as exc:
        raise BadTemplate(part, _line_of(exc, part), str(exc) or type(exc).__name__) from exc
    finally:
        _BUDGET.reset(token)


def _filename(part: Part) -> str:
    return f"<{part} template>"


def _line_of(exc: BaseException, part: Part) -> int | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == _filename(part)]
    return frames[-1].lineno if frames else None
