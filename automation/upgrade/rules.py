"""Airflow's own migration rules over the DAG files: ruff's AIR rules (ruff is pinned in the lint group).

Preview is on for AIR321 (names Airflow 3.1 moved) and the other rules still in preview. What would fail on
Airflow 3 is a blocker: AIR301 (removed), AIR302 (moved to a provider), AIR303 (a changed signature). The rest
(suggested updates, AIR3x1 moves that still work through a deprecation, DAG style) are warnings.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from automation.core.errors import UserError
from automation.core.runner import Runner

BLOCKERS = frozenset({"AIR301", "AIR302", "AIR303"})


@dataclass(frozen=True)
class Violation:
    code: str
    file: str  # relative to the DAG folder
    line: int
    message: str

    @property
    def blocker(self) -> bool:
        return self.code in BLOCKERS


def ruff() -> str:
    """The pinned ruff of this environment (the session's bin folder), else the one on PATH."""
    beside = Path(sys.executable).parent / "ruff"
    found = str(beside) if beside.is_file() else shutil.which("ruff")
    if found is None:
        raise UserError("ruff is not installed in this Python environment (the AIR rules run with it)",
                        "run the check through nox: `nox -s upgrade-check -- --to VERSION`")
    return found


def command(dags_folder: Path) -> list[str]:
    return [ruff(), "check", "--select", "AIR", "--preview", "--no-fix", "--no-cache", "--exit-zero",
            "--output-format", "json", str(dags_folder)]


def check(runner: Runner, dags_folder: Path) -> list[Violation]:
    result = runner.read(command(dags_folder), timeout=300, fix="run `ruff check --select AIR dags/` to see why")
    if result.dry_run:
        return []
    return parse(json.loads(result.stdout or "[]"), dags_folder)


def parse(found: list[dict[str, object]], dags_folder: Path) -> list[Violation]:
    violations = []
    for item in found:
        path = Path(str(item["filename"]))
        with contextlib.suppress(ValueError):  # outside the folder: shown as ruff names it
            path = path.resolve().relative_to(dags_folder.resolve())
        location = item.get("location") or {}
        row = int(location.get("row", 0)) if isinstance(location, dict) else 0
        violations.append(Violation(str(item.get("code")), str(path), row, str(item.get("message"))))
    return sorted(violations, key=lambda v: (not v.blocker, v.file, v.line, v.code))
