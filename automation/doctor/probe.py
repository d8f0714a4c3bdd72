"""What every doctor check reads from: the target's provider, and the cluster connection made once for all
checks (they run on threads at the same time, and connecting costs the API discovery)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from automation.k8s.cluster import LiveCluster, Unreachable
from automation.providers import Provider

T = TypeVar("T")


class Probe:
    def __init__(self, provider: Provider):
        self.provider = provider
        self.target = provider.target
        self.runner = provider.runner
        self._lock = threading.Lock()
        self._keys: dict[str, threading.Lock] = {}
        self._memo: dict[str, Any] = {}

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked for; every other thread waits for that answer."""
        with self._lock:
            key_lock = self._keys.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]  # type: ignore[no-any-return]

    def state(self) -> LiveCluster | Unreachable:
        return self.once("state", self.provider.state)

    def live(self) -> LiveCluster | None:
        state = self.state()
        return state if isinstance(state, LiveCluster) else None

    def command(self, session: str, *args: str) -> str:
        """A command the user can copy as is: this target and the same settings files."""
        return self.target.command(session, *args)
