"""Converging Airflow's connections, variables and pools on what the projects declare (settings.airflow_yaml).

Each kind is read once, compared with what is declared, and only what differs is written: an object of the same
id is updated only when it carries this tool's mark (its description), and an object with the mark that no
project declares any more is deleted; everything else is left alone. The same decisions on every target; how
Airflow is read and written is the provider's `Store` (the REST API, or Composer's `environments run`).

Airflow never shows a password (nor a sensitive variable or extra field) back: those come back as '***'. What
was written last is remembered as a fingerprint in the target's private state folder, so a value that cannot be
read back is rewritten only when the declared one changed (or this machine has no record of writing it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from automation.core.paths import rel, write_private
from automation.core.runner import Runner
from automation.settings.airflow_yaml import KINDS, AirflowObject, AirflowObjects, owner

REDACTED = "***"
# The field that names an object, per kind (as Airflow's REST API names it).
ID_FIELD = {"connections": "connection_id", "variables": "key", "pools": "name"}


@dataclass(frozen=True)
class Change:
    action: Literal["create", "update", "delete"]
    kind: str
    ident: str
    obj: AirflowObject | None = None  # None for a deletion
    project: str = ""

    def describe(self, where: str) -> str:
        singular = self.kind.removesuffix("s")
        if self.action == "delete":
            return (f"delete Airflow {singular} {self.ident} ({where}; made for project {self.project}, "
                    "no longer declared)")
        return f"{self.action} Airflow {singular} {self.ident} ({where})"


class Store(Protocol):
    """How one target's Airflow is read and written."""

    where: str

    def current(self, kind: str) -> dict[str, dict[str, Any]] | None:
        """Every object of `kind` by id, fields as the REST API names them; None when it cannot be read (a dry
        run before Airflow runs): planned as if there were none."""

    def apply(self, kind: str, changes: list[Change]) -> None:
        """Make the changes (each shown as it is made, or planned in a dry run)."""


@dataclass
class Ledger:
    """Fingerprints of what this machine last wrote, per kind and id (`.state/TARGET/airflow-objects.json`)."""

    path: Path
    entries: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Ledger:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        return cls(path, data if isinstance(data, dict) else {})

    def get(self, kind: str, ident: str) -> dict[str, str] | None:
        return self.entries.get(kind, {}).get(ident)

    def of(self, kind: str) -> dict[str, dict[str, str]]:
        return dict(self.entries.get(kind, {}))

    def record(self, obj: AirflowObject) -> None:
        self.entries.setdefault(obj.kind, {})[obj.ident] = {"fingerprint": fingerprint(obj),
                                                            "project": obj.project}

    def forget(self, kind: str, ident: str) -> None:
        self.entries.get(kind, {}).pop(ident, None)

    def save(self) -> None:
        write_private(self.path, json.dumps(self.entries, indent=1, sort_keys=True))


def fingerprint(obj: AirflowObject) -> str:
    """A digest of everything declared, secret values included; the values themselves are never stored."""
    return hashlib.sha256(json.dumps(obj.body, sort_keys=True).encode()).hexdigest()


def differences(current: dict[str, Any], body: dict[str, Any]) -> tuple[list[str], bool]:
    """The fields that differ, and whether some field could not be compared (Airflow showed '***')."""
    differ: list[str] = []
    hidden = False
    for key, wanted in body.items():
        have = current.get(key)
        if key == "extra":
            extra_differ, extra_hidden = _extra_differences(have, wanted)
            differ += ["extra"] if extra_differ else []
            hidden = hidden or extra_hidden
        elif have == REDACTED and wanted is not None:
            hidden = True
        elif have != wanted:
            differ.append(key)
    return differ, hidden


def _extra_differences(have: Any, wanted: Any) -> tuple[bool, bool]:
    def parsed(text: Any) -> Any:
        try:
            return json.loads(text) if text else {}
        except ValueError:
            return text

    current, desired = parsed(have), parsed(wanted)
    if not isinstance(current, dict) or not isinstance(desired, dict):
        return current != desired, False
    hidden = False
    for key in set(current) | set(desired):
        if current.get(key) == REDACTED and key in desired:
            hidden = True
        elif current.get(key) != desired.get(key):
            return True, hidden
    return False, hidden


def converge(runner: Runner, store: Store, declared: AirflowObjects, ledger: Ledger) -> dict[str, str]:
    """Create, update and prune each kind; one line per kind. The outcome per object ('connections/ID')."""
    outcome: dict[str, str] = {}
    for kind in KINDS:
        current = store.current(kind)
        known = current or {}
        wanted = {obj.ident: obj for obj in declared.of(kind)}
        changes: list[Change] = []
        foreign: list[str] = []
        unchanged: list[str] = []
        for ident, obj in wanted.items():
            have = known.get(ident)
            if have is None:
                changes.append(Change("create", kind, ident, obj))
            elif owner(have.get("description")) is None:
                foreign.append(ident)
            elif _unchanged(have, obj, ledger):
                unchanged.append(ident)
            else:
                changes.append(Change("update", kind, ident, obj))
        for ident, have in sorted(known.items()):
            made_for = owner(have.get("description"))
            if ident not in wanted and made_for is not None:
                changes.append(Change("delete", kind, ident, project=made_for))
        for ident in foreign:
            runner.say(f"    warning: Airflow {kind.removesuffix('s')} {ident} exists but was not made by this tool: "
                       f"left as it is -- delete it, or rename it in {rel(wanted[ident].source)}, "
                       "to let `up` manage it")
        if changes:
            store.apply(kind, changes)
        for change in changes:
            outcome[f"{kind}/{change.ident}"] = {"create": "created", "update": "updated",
                                                 "delete": "deleted"}[change.action]
            if change.obj is not None:
                ledger.record(change.obj)
            else:
                ledger.forget(kind, change.ident)
        outcome.update({f"{kind}/{ident}": "unchanged" for ident in unchanged})
        outcome.update({f"{kind}/{ident}": "foreign" for ident in foreign})
        runner.say(f"    {kind}: {_summary(changes, unchanged, foreign, current is None)}")
    if not runner.dry_run:
        ledger.save()
    return outcome


def _unchanged(have: dict[str, Any], obj: AirflowObject, ledger: Ledger) -> bool:
    differ, hidden = differences(have, obj.body)
    if differ:
        return False
    if not hidden:
        return True
    # A value Airflow does not show back: the same as the last one written from this machine?
    last = ledger.get(obj.kind, obj.ident)
    return last is not None and last.get("fingerprint") == fingerprint(obj)


def _summary(changes: list[Change], unchanged: list[str], foreign: list[str], unread: bool) -> str:
    counts = [f"{sum(c.action == action for c in changes)} {done}"
              for action, done in (("create", "created"), ("update", "updated"), ("delete", "deleted"))
              if any(c.action == action for c in changes)]
    if unchanged:
        counts.append(f"{len(unchanged)} unchanged")
    if foreign:
        counts.append(f"{len(foreign)} not ours, left alone")
    if not changes and not foreign:
        text = f"unchanged ({len(unchanged)})" if unchanged else "none declared"
    else:
        text = ", ".join(counts)
    return text + (" (current state not readable: planned as if Airflow had none)" if unread else "")
