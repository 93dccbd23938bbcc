"""Marketers' models are files: YAML read safely, validated by a pydantic model, every problem
reported at once as `file: path: message (line N)`.

Sequences use it today; segments, stages, scoring and webhook files read the same way, so a
marketer meets one dialect (YAML 1.2 scalars, no aliases, duplicate keys refused) and one error
format everywhere.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from chalicelib.errors import FileError, FileInvalid
from chalicelib.fields import PATTERN_MEANING, Model

__all__ = [
    "MAX_FILE_BYTES",
    "VersionedModel",
    "check_size",
    "published_schema",
    "read_text",
    "read_yaml",
    "schema_text",
    "stored_data",
    "validated",
]

MAX_FILE_BYTES = 256 * 1024
"""Upper bound for a model file and for each template file it references."""

M = TypeVar("M", bound=BaseModel)


def check_size(text: str, file: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise FileInvalid(file, [too_big(size)])


def too_big(size: int) -> FileError:
    return FileError("", f"file is {size} bytes; the limit is {MAX_FILE_BYTES // 1024} KiB")


def read_text(path: Path) -> str:
    """A model file's text: refused whole when it is too big or not UTF-8."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FileInvalid(str(path), [too_big(size)])
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileInvalid(str(path), [FileError("", "the file is not UTF-8 text")]) from exc


class VersionedModel(Model):
    """A model file stored as versions: canonical JSON (sorted keys, normalised values) and
    the hash that tells an unchanged push."""

    def to_json(self) -> str:
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def content_hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def stored_data(text: str, file: str) -> Any:
    """The data of a stored version's JSON, or `FileInvalid`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileInvalid(file, [FileError("", f"invalid JSON: {exc}")]) from exc


def validated(
    model: type[M],
    data: Any,
    file: str,
    lines: Mapping[str, int],
    errors: list[FileError],
    context: Mapping[str, Any] | None = None,
) -> M:
    """`data` as a `model`, or `FileInvalid` with `errors` and the schema's errors together."""
    if not isinstance(data, dict):
        message = "the top level must be a mapping of keys"
        raise FileInvalid(file, [*errors, FileError("", message)])
    try:
        found = model.model_validate(data, context=dict(context or {}))
    except ValidationError as exc:
        details = exc.errors(include_url=False)
        errors = [*errors, *(_schema_error(detail, model) for detail in details)]
    if errors:
        located = [_with_line(error, lines) for error in errors]
        raise FileInvalid(file, sorted(located, key=lambda e: (e.line or 0, e.path)))
    return found


def _with_line(error: FileError, lines: Mapping[str, int]) -> FileError:
    """Attach the line of the nearest enclosing YAML node that exists in the file."""
    if error.line is not None:
        return error
    path = error.path
    while path and path not in lines:
        shorter = re.sub(r"(?:^|\.)[^.\[\]]*$|\[\d+\]$", "", path, count=1)
        if shorter == path:  # a part the file does not spell (a union member's tag)
            shorter = path.rpartition(".")[0]
        path = shorter
    return FileError(error.path, error.message, lines.get(path))


def _schema_error(detail: Any, root: type[BaseModel]) -> FileError:
    loc = [part for part in detail["loc"] if part != "[key]"]
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    path = path.removeprefix(".")
    if detail["type"] == "extra_forbidden":
        return FileError(path, _unknown_key_message(loc, root))
    if detail["type"] == "missing":
        return FileError(path, "is required")
    if detail["type"] == "value_error":
        return FileError(path, str(detail["ctx"]["error"]))
    message = PATTERN_MEANING.get(detail.get("ctx", {}).get("pattern"), detail["msg"])
    prefix = "key: " if "[key]" in detail["loc"] else ""
    given = detail["input"]
    shown = repr(given) if isinstance(given, str | int | float) else ""
    suffix = f" (got {shown[:60]}{'…' if len(shown) > 60 else ''})" if shown else ""
    return FileError(path, f"{prefix}{message}{suffix}")


def _unknown_key_message(loc: list[int | str], root: type[BaseModel]) -> str:
    allowed = sorted(_allowed_keys(loc[:-1], root))
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}allowed here: {', '.join(allowed)}"


def _allowed_keys(loc: list[int | str], root: type[BaseModel]) -> set[str]:
    """Field names of the model at `loc`, found by walking the model's annotations."""
    annotation: Any = root
    for part in loc:
        annotation = _without_none(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = _fields_by_key(annotation).get(str(part))
            annotation = field.annotation if field else None
        else:  # a list index or a mapping key: step into the item type
            items = [arg for arg in get_args(annotation) if arg is not Ellipsis]
            annotation = items[-1] if items else None
    annotation = _without_none(annotation)
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return set(_fields_by_key(annotation)) if is_model else set()


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the key a file uses (its alias, like `in` or `not`, if it has one)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _without_none(annotation: Any) -> Any:
    """`Annotated[X, ...] | None` -> X."""
    if get_origin(annotation) is Annotated:
        return _without_none(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _without_none(options[0]) if len(options) == 1 else annotation
    return annotation


# ---------------------------------------------------------------------------------------------
# YAML


MAX_DIGITS = 38
"""Digits of a number in a file (what DynamoDB stores; far beyond any cap, weight or score)."""
_CORE = "tag:yaml.org,2002:"
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """Safe loader with YAML 1.2 scalars (`no`, `on`, `10:30` stay strings), no aliases, and
    only the core tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq`, `!!map`).

    A value its tag cannot hold (`!!int x`, `!!bool maybe`), a number past `MAX_DIGITS`, a
    float that is not finite and text with a lone UTF-16 surrogate are YAML errors with a line.
    """

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}
    yaml_constructors: ClassVar[dict[Any, Any]] = {
        tag: constructor
        for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
        if tag is None or tag.removeprefix(_CORE) in ("null", "bool", "int", "float", "seq", "map")
    }

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not supported", mark)
        return super().compose_node(parent, index)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            tag = node.tag.replace(_CORE, "!!")
            shown = repr(node.value)[:60] if isinstance(node, yaml.ScalarNode) else "this node"
            detail = f" ({exc})" if isinstance(exc, ValueError) else ""
            problem = f"{shown} is not a valid {tag}{detail}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from exc

    def construct_undefined(self, node: yaml.Node) -> Any:
        tag = node.tag.replace(_CORE, "!!")
        problem = f"tag {tag} is not supported (write the value without it)"
        raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)

    def construct_yaml_str(self, node: yaml.Node) -> str:
        text: str = super().construct_yaml_str(node)
        if _SURROGATE.search(text):
            raise ValueError("text holds a lone UTF-16 surrogate")
        return text

    def construct_yaml_int(self, node: yaml.Node) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_DIGITS:
            raise ValueError(f"more than {MAX_DIGITS} digits")
        value: int = super().construct_yaml_int(node)
        return value

    def construct_yaml_float(self, node: yaml.Node) -> float:
        value: float = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value


for _kind in ("str", "int", "float"):
    _Loader.add_constructor(f"{_CORE}{_kind}", getattr(_Loader, f"construct_yaml_{_kind}"))
_Loader.add_constructor(None, _Loader.construct_undefined)


def _resolve_yaml_12_scalars() -> None:
    """YAML 1.1 reads `no` as false and `10:30` as 630; marketers mean the text."""
    for tag, pattern, first in (
        ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
        ("float", r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$", "-+.0123456789"),
        ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ):
        _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(pattern), list(first))


_resolve_yaml_12_scalars()


def read_yaml(text: str, file: str) -> tuple[Any, dict[str, int], list[FileError]]:
    """Parse YAML into plain data, a path -> line index, and duplicate-key errors."""
    check_size(text, file)
    try:
        loader = _Loader(text)  # reads the whole text: a character YAML never allows fails here
    except yaml.reader.ReaderError as exc:
        where = text.count("\n", 0, exc.position) + 1
        problem = f"invalid YAML: character #x{exc.character:04x} is not allowed"
        raise FileInvalid(file, [FileError("", problem, where)]) from exc
    try:
        node = loader.get_single_node()
        if node is None:
            raise FileInvalid(file, [FileError("", "the file is empty")])
        lines: dict[str, int] = {}
        errors = list(_index_nodes(node, "", lines))
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = f"invalid YAML: {exc.problem or exc.context}"
        raise FileInvalid(file, [FileError("", message, line)]) from exc
    except yaml.YAMLError as exc:
        raise FileInvalid(file, [FileError("", f"invalid YAML: {exc}")]) from exc
    except RecursionError as exc:
        raise FileInvalid(file, [FileError("", "the YAML is nested too deeply")]) from exc
    finally:
        loader.dispose()
    return data, lines, errors


def _index_nodes(node: yaml.Node, path: str, lines: dict[str, int]) -> Iterator[FileError]:
    """Record each path's line and report duplicate keys, which PyYAML silently overwrites."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _index_nodes(item, f"{path}[{index}]", lines)
    elif isinstance(node, yaml.MappingNode):
        first_seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            key = (key_node.tag, str(key_node.value))
            child = f"{path}.{key[1]}" if path else key[1]
            line = key_node.start_mark.line + 1
            if key in first_seen:
                message = f"duplicate key (first at line {first_seen[key]}; YAML keeps the last)"
                yield FileError(child, message, line)
            first_seen.setdefault(key, line)
            yield from _index_nodes(value_node, child, lines)


def published_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    """`model`'s JSON Schema as published for editors at `schemas/{name}.schema.json`,
    generated from the model so it cannot drift."""
    schema = model.model_json_schema(mode="validation", by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://nurture.dev/schemas/{name}.schema.json",
        **schema,
    }


def schema_text(schema: Mapping[str, Any]) -> str:
    """The exact text of a published schema file."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
