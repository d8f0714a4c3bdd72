"""A worker image's hashed lock, read as data, and its packages split into layers by how often they change.

The lock (`uv pip compile --generate-hashes` output) stays the single source of what is installed: each layer
installs a verbatim slice of it, hashes included. The split follows requirements.in: every locked package
belongs to the first direct requirement, in the file's order, that needs it (the lock's `# via` comments
say who needs whom). New requirements are added at the end of requirements.in, so adding one adds a last
layer and leaves the layers of the earlier ones, and their digests, untouched; a package that nothing in
requirements.in reaches (a lock written by hand) goes to a last layer of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from automation.core.errors import UserError
from automation.core.paths import rel

# The lock's own name for a requirement that requirements.in asks for.
_DIRECT = "-r requirements.in"
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==")
UNREACHED_LAYER = "other"


@dataclass(frozen=True)
class LockEntry:
    name: str  # canonical (PEP 503)
    text: str  # the entry's lines as the lock has them: the pin, its marker, its hashes
    needed_by: tuple[str, ...]  # canonical names, and _DIRECT for requirements.in


@dataclass(frozen=True)
class Layer:
    """One image layer: the packages of one direct requirement (and of what only it brought in)."""

    name: str
    entries: tuple[LockEntry, ...]

    @property
    def packages(self) -> list[str]:
        return [e.name for e in self.entries]

    def lock_text(self) -> str:
        return "".join(e.text for e in self.entries)


def read_lock(path: Path) -> list[LockEntry]:
    entries: list[LockEntry] = []
    name: str | None = None
    lines: list[str] = []
    via: list[str] = []
    in_via_list = False

    def close() -> None:
        if name is not None:
            entries.append(LockEntry(name, "".join(lines), tuple(via)))

    for raw in path.read_text().splitlines(keepends=True):
        stripped = raw.strip()
        match = _ENTRY.match(raw)
        if match:
            close()
            name, lines, via, in_via_list = canonicalize_name(match.group(1)), [raw], [], False
            continue
        if name is None:
            continue  # the header
        if stripped.startswith("--hash=") or stripped.endswith("\\"):
            lines.append(raw)
        elif stripped == "# via":
            in_via_list = True
        elif stripped.startswith("# via "):
            via.append(_needer(stripped[len("# via "):]))
        elif in_via_list and stripped.startswith("#   "):
            via.append(_needer(stripped[len("#   "):]))
        elif not stripped.startswith("#") and stripped:
            raise UserError(f"{rel(path)}: cannot read the line {stripped[:60]!r}",
                            "re-lock with `uv pip compile --generate-hashes` (see docs/how-to/worker-images.md)")
    close()
    if not entries:
        raise UserError(f"{rel(path)} pins no package", "re-lock the image (see docs/how-to/worker-images.md)")
    return entries


def _needer(text: str) -> str:
    text = text.strip()
    return _DIRECT if text.startswith("-r ") else str(canonicalize_name(text.split()[0]))


def direct_requirements(path: Path) -> list[str]:
    """requirements.in's names, canonical, in the file's order."""
    names: list[str] = []
    for raw in path.read_text().splitlines() if path.is_file() else []:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            names.append(canonicalize_name(Requirement(line).name))
        except InvalidRequirement:
            raise UserError(f"{rel(path)}: {line[:60]!r} is not a requirement",
                            "write one requirement per line (name, extras, version specifier)") from None
    return list(dict.fromkeys(names))


def layers(requirements_in: Path, lock: Path) -> list[Layer]:
    """The lock's packages in layers, in requirements.in's order (see the module's docstring)."""
    entries = read_lock(lock)
    by_name = {e.name: e for e in entries}
    needs: dict[str, list[str]] = {}  # package -> what it brought in
    for entry in entries:
        for needer in entry.needed_by:
            needs.setdefault(needer, []).append(entry.name)
    owner: dict[str, str] = {}
    order = [n for n in direct_requirements(requirements_in) if n in by_name]
    for direct in order:
        pending = [direct]
        while pending:
            name = pending.pop()
            if name in owner or name not in by_name:
                continue
            owner[name] = direct
            pending.extend(needs.get(name, ()))
    result = [Layer(d, tuple(e for e in entries if owner.get(e.name) == d)) for d in order]
    rest = tuple(e for e in entries if e.name not in owner)
    if rest:
        result.append(Layer(UNREACHED_LAYER, rest))
    return result
