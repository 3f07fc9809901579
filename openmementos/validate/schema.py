"""The row schema (``schemas/openmementos_row.json``) as a fast per-row check and a Parquet type check.

``jsonschema`` takes about 0.7 ms on one full row, more than the whole budget of a record, so the
schema is compiled once into plain Python tests. The compiler knows a small set of keywords and
refuses any other, so the schema file cannot grow a rule that is silently ignored; a test checks
that it agrees with ``jsonschema`` on good and broken rows. ``x-arrow`` names the Parquet type of
each column: a file whose column has another type fails for every row, before any value is read.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import pyarrow as pa

from ..resources import load_schema

SCHEMA_NAME = "openmementos_row"
_ANNOTATIONS = {"$schema", "$id", "title", "description", "x-arrow"}
_VALUE_KEYWORDS = {"type", "items", "minItems", "maxItems", "minLength", "minimum", "maximum", "enum"}
_OBJECT_KEYWORDS = {"properties", "required", "dependentRequired", "additionalProperties"}

Test = Callable[[Any], "str | None"]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _is(kind: str, value: Any) -> bool:
    if kind == "string":
        return type(value) is str
    if kind == "integer":  # JSON Schema: 3.0 is an integer
        return (type(value) is int) or (type(value) is float and value.is_integer())
    if kind == "number":
        return type(value) in (int, float)
    if kind == "array":
        return type(value) in (list, tuple)
    if kind == "object":
        return type(value) is dict
    if kind == "boolean":
        return type(value) is bool
    return value is None if kind == "null" else False


def _compile(node: dict[str, Any]) -> Test:
    unknown = set(node) - _ANNOTATIONS - _VALUE_KEYWORDS
    if unknown:
        raise ValueError(f"{SCHEMA_NAME}: keyword(s) {sorted(unknown)} are not supported by the fast checker")
    tests: list[Test] = []
    kind = node.get("type")
    if kind is not None:
        tests.append(lambda v: None if _is(kind, v) else f"expected {kind}, got {_kind(v)} {_short(v)}")
    if "enum" in node:
        allowed = node["enum"]
        tests.append(lambda v: None if v in allowed else f"{_short(v)} is not one of {allowed}")
    if "minLength" in node:
        low = node["minLength"]
        tests.append(lambda v: None if len(v) >= low else f"shorter than {low} characters")
    if "minimum" in node:
        least = node["minimum"]
        tests.append(lambda v: None if v >= least else f"{v} is below {least}")
    if "maximum" in node:
        most = node["maximum"]
        tests.append(lambda v: None if v <= most else f"{v} is above {most}")
    if "minItems" in node:
        low = node["minItems"]
        tests.append(lambda v: None if len(v) >= low else f"{len(v)} items, at least {low} expected")
    if "maxItems" in node:
        high = node["maxItems"]
        tests.append(lambda v: None if len(v) <= high else f"{len(v)} items, at most {high} expected")
    if "items" in node:
        tests.append(_items(node["items"]))

    def test(value: Any) -> str | None:
        for one in tests:  # the type test comes first, so the others see the right type
            problem = one(value)
            if problem:
                return problem
        return None

    return test


def _items(node: dict[str, Any]) -> Test:
    item = _compile(node)
    kind = node.get("type")
    wanted = {"string": (str,), "integer": (int,), "number": (int, float)}.get(kind or "", ())
    plain = bool(wanted) and set(node) - _ANNOTATIONS <= {"type", "minimum", "maximum"}
    least, most = node.get("minimum"), node.get("maximum")

    def test(values: Any) -> str | None:
        # the common case (a list of plain strings or numbers in range) costs a few C-level passes
        if plain and all(type(v) in wanted for v in values) and (
            not values or ((least is None or min(values) >= least) and (most is None or max(values) <= most))
        ):
            return None
        for i, value in enumerate(values):
            problem = item(value)
            if problem:
                return f"[{i}] {problem}"
        return None

    return test


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class RowSchema:
    """The compiled row schema: ``problems(row)`` lists ``(column, message)`` pairs."""

    def __init__(self, schema: dict[str, Any]) -> None:
        unknown = set(schema) - _ANNOTATIONS - _OBJECT_KEYWORDS - {"type"}
        if unknown or schema.get("type") != "object":
            raise ValueError(f"{SCHEMA_NAME}: the top level must be an object schema, unsupported: {sorted(unknown)}")
        self.columns = {name: _compile(node) for name, node in schema["properties"].items()}
        self.arrow = {name: node["x-arrow"] for name, node in schema["properties"].items() if "x-arrow" in node}
        self.required = tuple(schema.get("required", ()))
        self.dependent = {k: tuple(v) for k, v in schema.get("dependentRequired", {}).items()}
        self.closed = schema.get("additionalProperties", True) is False

    def problems(self, row: dict[str, Any]) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for name in self.required:
            if name not in row:
                found.append((name, "missing column"))
        for name, needs in self.dependent.items():
            if name in row:
                found += [(other, f"missing column (needed with {name})") for other in needs if other not in row]
        for name, value in row.items():
            test = self.columns.get(name)
            if test is not None:
                problem = test(value)
                if problem:
                    found.append((name, problem))
            elif self.closed:
                found.append((name, "column not in the schema"))
        return found

    def arrow_problems(self, schema: pa.Schema) -> dict[str, str]:
        """Columns of a Parquet file whose type is not the published one: ``{column: message}``."""
        found = {}
        for name in schema.names:
            wanted = self.arrow.get(name)
            if wanted is None:
                continue
            have = arrow_type_name(schema.field(name).type)
            if have != wanted:
                found[name] = f"Parquet column type is {have}, the schema wants {wanted}"
        return found


def arrow_type_name(kind: pa.DataType) -> str:
    """``list<list<int64>>`` style names; large and view variants count as the plain type."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_list_view(kind) or pa.types.is_large_list_view(kind):
        return f"list<{arrow_type_name(kind.value_type)}>"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    return str(kind)


@functools.lru_cache(maxsize=None)
def row_schema() -> RowSchema:
    return RowSchema(load_schema(SCHEMA_NAME))
