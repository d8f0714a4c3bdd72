"""Each project's files: `k8s/PROJECT/config.env`, the git-ignored `secret.env` (template `secret.env.example`)
and their per-target overlays (`config.TARGET.env`, `secret.TARGET.env`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from automation.core.errors import UserError
from automation.core.paths import PROJECTS_DIR, rel
from automation.core.runner import register_secret
from automation.settings.model import Target

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def read_env_file(path: Path, *, template: Path | None = None) -> dict[str, str]:
    """KEY=VALUE lines, '#' comments, optional matching quotes. Any other line is an error naming it."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            hint = f"copy the layout of {rel(template)}" if template else "use KEY=VALUE lines"
            # The line itself may hold a secret value: name the line, never quote it.
            raise UserError(f"{rel(path)}:{number}: expected KEY=VALUE", hint)
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


@dataclass(frozen=True)
class ProjectFiles:
    name: str
    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "config.env"

    @property
    def secret(self) -> Path:
        return self.folder / "secret.env"

    @property
    def template(self) -> Path:
        return self.folder / "secret.env.example"

    def overlay(self, base: Path, target: str) -> Path:
        return base.with_name(f"{base.stem}.{target}{base.suffix}")

    def config_values(self, target: str) -> dict[str, str] | None:
        values: dict[str, str] | None = None
        for path in (self.config, self.overlay(self.config, target)):
            if path.is_file():
                values = {**(values or {}), **read_env_file(path)}
        return values

    def secret_values(self, target: str) -> dict[str, str] | None:
        if not self.secret.is_file():
            if self.template.is_file():
                raise UserError(
                    f"project {self.name!r} has no secret file {rel(self.secret)}",
                    f"`nox -s up` makes it from its template, or: cp {rel(self.template)} {rel(self.secret)}",
                )
            return None  # a project without a Secret still works
        values = read_env_file(self.secret, template=self.template)
        target_file = self.overlay(self.secret, target)
        if target_file.is_file():
            values.update(read_env_file(target_file, template=self.template))
        if self.template.is_file():
            missing = sorted(set(read_env_file(self.template)) - set(values))
            if missing:
                raise UserError(f"{rel(self.secret)}: missing key {missing[0]}",
                                f"add it as in {rel(self.template)}")
        for value in values.values():
            register_secret(value)
        return values


def project_files(name: str, target: Target | None = None) -> ProjectFiles:
    root = target.path(target.projects_dir) if target else PROJECTS_DIR
    return ProjectFiles(name, root / name)
