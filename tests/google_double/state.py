"""What one double holds: resources by name, IAM policies with their etags, object bytes, upload sessions, and the
record of every request. Resources are kept as the JSON Google answers with, keyed by their relative name
(`projects/p/locations/l/environments/e`, or `b/BUCKET/o/OBJECT` for Cloud Storage)."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def segments_match(pattern: list[str], key: list[str]) -> bool:
    """`-` stands for any one segment, as in Google's names (`projects/-/serviceAccounts/EMAIL`)."""
    return len(pattern) == len(key) and all(p in ("-", k) for p, k in zip(pattern, key, strict=True))


@dataclass(frozen=True)
class Recorded:
    """One request as the double received it: the test's view of what gcloud sent."""

    method: str  # the discovery method id ("composer.projects.locations.environments.get"), "" when unrouted
    http_method: str
    path: str  # the URL path as sent (percent-encoded), the API's mount included
    query: dict[str, list[str]]
    body: Any  # the JSON body (for an upload, its metadata), None without one
    media: bytes | None  # an upload's bytes
    status: int


@dataclass
class Upload:
    """A resumable upload in progress (Cloud Storage's upload_id session)."""

    key: str
    metadata: dict[str, Any]
    content_type: str
    preconditions: dict[str, list[str]]  # ifGenerationMatch & co. of the request that opened the session
    received: bytearray = field(default_factory=bytearray)


class State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}  # api -> name -> resource
        self.policies: dict[str, dict[str, dict[str, Any]]] = {}  # api -> resource name -> IAM policy
        self.media: dict[str, bytes] = {}  # Cloud Storage object name -> bytes
        self.uploads: dict[str, Upload] = {}
        self.log_entries: list[dict[str, Any]] = []
        self.records: list[Recorded] = []
        self.failures: list[str] = []  # tracebacks of the double's own errors (answered 500)
        self._etag = 0

    def table(self, api: str) -> dict[str, dict[str, Any]]:
        return self.resources.setdefault(api, {})

    def find(self, api: str, key: str) -> str | None:
        """The stored name `key` designates, `-` segments matching any (the first such name)."""
        table = self.table(api)
        if key in table:
            return key
        if "-" not in key.split("/"):
            return None
        wanted = key.split("/")
        return next((name for name in table if segments_match(wanted, name.split("/"))), None)

    def children(self, api: str, collection: str) -> list[str]:
        wanted = collection.split("/")
        return sorted(name for name in self.table(api)
                      if segments_match(wanted, name.split("/")[:-1]) and len(name.split("/")) == len(wanted) + 1)

    def remove(self, api: str, key: str) -> None:
        """A resource and everything under it (an environment's config maps go with it)."""
        table = self.table(api)
        for name in [n for n in table if n == key or n.startswith(key + "/")]:
            del table[name]
            self.media.pop(name, None)
            self.policies.get(api, {}).pop(name, None)

    def next_etag(self) -> str:
        """An opaque etag that changes on every write, the way Google's IAM etags do."""
        self._etag += 1
        return base64.b64encode(self._etag.to_bytes(8, "big")).decode()
