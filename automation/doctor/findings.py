"""What a doctor check finds: one line each, with the fix for anything that is not ok."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "blocker", "n/a"]
# How each status is shown: fixed width, so the messages line up.
LABELS: dict[Status, str] = {"ok": "ok     ", "warn": "WARN   ", "blocker": "BLOCKER", "n/a": "n/a    "}


@dataclass(frozen=True)
class Finding:
    check: str  # the check's name, e.g. "ui port-forward"
    status: Status
    message: str  # what was found
    fix: str = ""  # what to do; required for warn and blocker

    def __post_init__(self) -> None:
        if self.status in ("warn", "blocker") and not self.fix:
            raise ValueError(f"finding {self.check!r} ({self.status}) has no fix")

    def line(self, width: int = 0) -> str:
        text = f"{LABELS[self.status]}  {self.check:<{width}}  {self.message}"
        return text + (f" -- fix: {self.fix}" if self.fix and self.status != "ok" else "")


def ok(check: str, message: str) -> Finding:
    return Finding(check, "ok", message)


def warn(check: str, message: str, fix: str) -> Finding:
    return Finding(check, "warn", message, fix)


def blocker(check: str, message: str, fix: str) -> Finding:
    return Finding(check, "blocker", message, fix)


def not_applicable(check: str, why: str) -> Finding:
    """A check that does not apply to this target, and why (never a fake pass)."""
    return Finding(check, "n/a", why)


def exit_code(findings: Iterable[Finding]) -> int:
    """1 when anything blocks, 0 otherwise (warnings included)."""
    return 1 if any(f.status == "blocker" for f in findings) else 0


def summary(findings: list[Finding], seconds: float) -> str:
    counts = {s: sum(f.status == s for f in findings) for s in ("ok", "warn", "blocker", "n/a")}
    return (f"doctor: {counts['ok']} ok, {counts['warn']} warning(s), {counts['blocker']} blocker(s), "
            f"{counts['n/a']} not applicable, in {seconds:.1f}s")
