"""BuildKit's progress, as the Docker engine streams it: `{"id": "moby.buildkit.trace", "aux": BASE64}`, where
the base64 is a protobuf `moby.buildkit.v1.StatusResponse` (github.com/moby/buildkit, api/services/control).

Only the fields a build report needs are read: each step (vertex) with its name, start, end, cache hit and error,
and the lines its commands printed. No Python package carries BuildKit's protobuf definitions (buildx, the
client that does, is written in Go), and these few fields are protobuf's plain wire format, so they are decoded
here rather than by generating code from .proto files for three messages.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

# Field numbers, from buildkit's control.proto.
_RESPONSE_VERTEX, _RESPONSE_LOG = 1, 3
_VERTEX_DIGEST, _VERTEX_NAME, _VERTEX_CACHED, _VERTEX_STARTED, _VERTEX_COMPLETED, _VERTEX_ERROR = 1, 3, 4, 5, 6, 7
_LOG_VERTEX, _LOG_STREAM, _LOG_MSG = 1, 3, 4
STDERR = 2
_TIMESTAMP_SECONDS, _TIMESTAMP_NANOS = 1, 2
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class Vertex:
    """One step of a build as one status message saw it (later messages add its end, its error)."""

    digest: str
    name: str
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""


@dataclass(frozen=True)
class Log:
    vertex: str
    text: str
    stream: int = 1  # 1 stdout, 2 stderr (STDERR)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of one message: an int for varints, the raw bytes for everything else."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, at = _varint(data, at)
        elif wire == _BYTES:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        elif wire == _FIXED64:
            value, at = data[at:at + 8], at + 8
        elif wire == _FIXED32:
            value, at = data[at:at + 4], at + 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by BuildKit's status messages")
        yield number, value


def _timestamp(data: bytes) -> float:
    parts = {n: v for n, v in _fields(data) if isinstance(v, int)}
    return parts.get(_TIMESTAMP_SECONDS, 0) + parts.get(_TIMESTAMP_NANOS, 0) / 1e9


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _vertex(data: bytes) -> Vertex:
    found: dict[str, object] = {}
    for number, value in _fields(data):
        if number == _VERTEX_DIGEST:
            found["digest"] = _text(value)
        elif number == _VERTEX_NAME:
            found["name"] = _text(value)
        elif number == _VERTEX_CACHED:
            found["cached"] = bool(value)
        elif number == _VERTEX_STARTED and isinstance(value, bytes):
            found["started"] = _timestamp(value)
        elif number == _VERTEX_COMPLETED and isinstance(value, bytes):
            found["completed"] = _timestamp(value)
        elif number == _VERTEX_ERROR:
            found["error"] = _text(value)
    return Vertex(digest=str(found.pop("digest", "")), name=str(found.pop("name", "")), **found)  # type: ignore[arg-type]


def decode(aux: str) -> Iterator[Vertex | Log]:
    """The steps and log lines of one trace message (its `aux` field)."""
    for number, value in _fields(base64.b64decode(aux)):
        if not isinstance(value, bytes):
            continue
        if number == _RESPONSE_VERTEX:
            yield _vertex(value)
        elif number == _RESPONSE_LOG:
            parts = dict(_fields(value))
            stream = parts.get(_LOG_STREAM, 1)
            yield Log(_text(parts.get(_LOG_VERTEX, b"")), _text(parts.get(_LOG_MSG, b"")),
                      stream if isinstance(stream, int) else 1)
