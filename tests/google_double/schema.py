"""Requests and responses checked against a discovery document's schemas, refused the way Google's JSON front end
refuses them (the proto-JSON parser's messages, quoted from real 400 answers).

Paths in messages use the protobuf field names (snake_case), as Google's do: `at 'cluster.node_pools[0]'`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from tests.google_double.discovery import Document

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
_INTEGER = re.compile(r"^-?\d+$")
_INT32 = (-(2**31), 2**31 - 1)
_UINT32 = (0, 2**32 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)
_WELL_KNOWN = {
    "google-datetime": "type.googleapis.com/google.protobuf.Timestamp",
    "google-duration": "type.googleapis.com/google.protobuf.Duration",
    "google-fieldmask": "type.googleapis.com/google.protobuf.FieldMask",
}


@dataclass(frozen=True)
class Violation:
    field: str  # where, as Google names it ("" for the top of the body)
    description: str


def proto_name(json_name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", json_name).lower()


def body_field(request_schema: str | None) -> str:
    """The request message's field the JSON body fills. Google's HTTP rules put a resource in a field named after
    it (`body: "environment"`) and a whole `...Request` message at the top (`body: "*"`); the discovery document
    does not say which, so the schema's name does."""
    if request_schema is None or request_schema.endswith("Request"):
        return ""
    return proto_name(request_schema)


def join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


class Checker:
    def __init__(self, document: Document):
        self.document = document
        self.schemas = document.schemas

    def resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        ref = schema.get("$ref")
        if ref is None:
            return schema, None
        return dict(self.schemas[ref]), str(ref)

    def type_name(self, schema: dict[str, Any]) -> str:
        schema, ref = self.resolve(schema)
        if ref is not None:
            return self.document.type_url(ref)
        kind, fmt = schema.get("type"), schema.get("format", "")
        if "enum" in schema:
            return "TYPE_ENUM"
        if fmt in _WELL_KNOWN:
            return _WELL_KNOWN[fmt]
        if kind == "string":
            return {"int64": "TYPE_INT64", "uint64": "TYPE_UINT64", "byte": "TYPE_BYTES"}.get(fmt, "TYPE_STRING")
        if kind == "integer":
            return "TYPE_UINT32" if fmt == "uint32" else "TYPE_INT32"
        if kind == "number":
            return "TYPE_FLOAT" if fmt == "float" else "TYPE_DOUBLE"
        if kind == "boolean":
            return "TYPE_BOOL"
        return "TYPE_MESSAGE"

    def check(self, value: Any, schema: dict[str, Any] | str, at: str = "") -> list[Violation]:
        """Every violation in `value` against `schema` (a schema object or a schema's name)."""
        found: list[Violation] = []
        self._check(value, {"$ref": schema} if isinstance(schema, str) else schema, at, found)
        return found

    def _check(self, value: Any, schema: dict[str, Any], at: str, found: list[Violation]) -> None:
        if value is None:  # proto-JSON reads null as the field's default
            return
        resolved, ref = self.resolve(schema)
        kind = resolved.get("type", "object" if ref else None)
        if kind == "any" or kind is None:
            return
        if kind == "array":
            if not isinstance(value, list):
                found.append(self._invalid(at, self.type_name(resolved.get("items", {})), value))
                return
            for index, item in enumerate(value):
                self._check(item, resolved.get("items", {}), f"{at}[{index}]", found)
            return
        if kind == "object":
            self._check_object(value, resolved, ref, at, found)
            return
        if isinstance(value, dict):
            parent, _, name = at.rpartition(".")
            where = f" at '{parent}'" if parent else ""
            found.append(Violation(at, f"Invalid value{where} ({name}), Starting an object on a scalar field"))
        elif isinstance(value, list):
            found.append(self._not_repeating(at))
        elif not _scalar_ok(value, resolved):
            found.append(self._invalid(at, self.type_name(resolved), value))

    def _check_object(self, value: Any, schema: dict[str, Any], ref: str | None, at: str,
                      found: list[Violation]) -> None:
        if isinstance(value, list):
            found.append(self._not_repeating(at))
            return
        if not isinstance(value, dict):
            found.append(self._invalid(at, self.type_name({"$ref": ref} if ref else schema), value))
            return
        properties = schema.get("properties")
        entries = schema.get("additionalProperties")
        if properties is None and entries is None:  # a free-form object (google.protobuf.Struct)
            return
        for index, (key, item) in enumerate(value.items()):
            if properties is not None and key in properties:
                self._check(item, properties[key], join(at, proto_name(key)), found)
            elif entries is not None:
                self._check(item, entries, f"{at}[{index}].value" if at else f"[{index}].value", found)
            else:
                where = f" at '{at}'" if at else ""
                found.append(Violation(at, f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                                           "Cannot find field."))

    @staticmethod
    def _invalid(at: str, type_name: str, value: Any) -> Violation:
        return Violation(at, f"Invalid value at '{at}' ({type_name}), {json.dumps(value)}")

    @staticmethod
    def _not_repeating(at: str) -> Violation:
        parent, _, name = at.rpartition(".")
        where = f" at '{parent}'" if parent else ""
        return Violation(at, f'Invalid JSON payload received. Unknown name "{name}"{where}: Proto field is not '
                             "repeating, cannot start list.")

    def check_parameter(self, name: str, values: list[str], spec: dict[str, Any]) -> list[Violation]:
        """A query parameter's values against its published type (query strings carry text only)."""
        found: list[Violation] = []
        for value in values:
            typed: Any = value
            if spec.get("type") == "boolean":  # gcloud storage sends "True": Google reads any case, and 1/0
                typed = {"true": True, "1": True, "false": False, "0": False}.get(value.lower(), value)
            if not _scalar_ok(typed, spec):
                found.append(self._invalid(proto_name(name), self.type_name(spec), value))
        return found

    def project(self, value: Any, schema: dict[str, Any] | str) -> Any:
        """`value` with only what `schema` publishes: the shape of a response, however the double's state holds
        it."""
        resolved, ref = self.resolve({"$ref": schema} if isinstance(schema, str) else schema)
        if isinstance(value, list) and resolved.get("type") == "array":
            return [self.project(item, resolved.get("items", {})) for item in value]
        if not isinstance(value, dict) or resolved.get("type", "object" if ref else None) != "object":
            return value
        properties = resolved.get("properties")
        entries = resolved.get("additionalProperties")
        if properties is None and entries is None:
            return value
        shaped: dict[str, Any] = {}
        for key, item in value.items():
            if properties is not None and key in properties:
                shaped[key] = self.project(item, properties[key])
            elif entries is not None:
                shaped[key] = self.project(item, entries)
        for key, spec in (properties or {}).items():
            if key == "kind" and "default" in spec and key not in shaped:
                shaped[key] = spec["default"]  # Cloud Storage's resources name their kind ("storage#bucket")
        return shaped


def _scalar_ok(value: Any, schema: dict[str, Any]) -> bool:
    kind, fmt = schema.get("type"), schema.get("format", "")
    if "enum" in schema:
        return (isinstance(value, str) and value in schema["enum"]) or type(value) is int
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        bounds = _UINT32 if fmt == "uint32" else _INT32
        return _integer_ok(value, bounds)
    if kind == "number":
        if isinstance(value, bool):
            return False
        if isinstance(value, int | float):
            return True
        return isinstance(value, str) and _is_number(value)
    if kind == "string":
        if fmt in ("int64", "uint64"):
            return _integer_ok(value, _UINT64 if fmt == "uint64" else _INT64)
        if not isinstance(value, str):
            return False
        if fmt == "byte":
            return _is_base64(value)
        if fmt == "google-datetime":
            return bool(_DATETIME.match(value))
        if fmt == "google-duration":
            return bool(_DURATION.match(value))
        return True
    return True


def _integer_ok(value: Any, bounds: tuple[int, int]) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INTEGER.match(value):
        value = int(value)
    return isinstance(value, int) and bounds[0] <= value <= bounds[1]


def _is_number(text: str) -> bool:
    if text in ("NaN", "Infinity", "-Infinity"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_base64(text: str) -> bool:
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            decode(padded.encode())
        except (binascii.Error, ValueError):
            continue
        return True
    return False
