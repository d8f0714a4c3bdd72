"""The environment of the Airflow release an upgrade moves to: made once with uv under
.state/upgrade-check/VERSION/ (git-ignored) and reused while what it was made from is unchanged.

It holds `apache-airflow[EXTRAS]==VERSION` with the extras pyproject's `airflow` extra names, the cncf-kubernetes
provider that release's constraints pin (Airflow's constraint files on GitHub; where they cannot be fetched, the
newest the resolver picks from PyPI, said in the report) or the one given, and `sh` at the lock's version: the
DAG parser that runs there is the project's own (automation.dags.gate), whose process module imports it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from automation.core import lockfile
from automation.core.errors import UserError
from automation.core.paths import REPO_ROOT, STATE_ROOT, rel
from automation.core.runner import Runner
from automation.core.versions import VERSIONS

PROVIDER = "apache-airflow-providers-cncf-kubernetes"
CONSTRAINTS_URL = "https://raw.githubusercontent.com/apache/airflow/constraints-{version}/constraints-{python}.txt"
# Byte-compiled at install: every check starts a fresh interpreter, and Airflow's imports from source cost
# seconds more (much more where PYTHONDONTWRITEBYTECODE is set), as the noxfile's sessions do.
INSTALL_ENV = {"UV_COMPILE_BYTECODE": "1"}


@dataclass(frozen=True)
class NewEnvironment:
    version: str  # the Airflow release
    python: Path  # its interpreter
    provider: str  # the cncf-kubernetes provider installed
    resolution: str  # where the provider's version came from, as the report says it
    reused: bool


def check_version(text: str, option: str = "--to") -> str:
    """`--to`'s (or `--from`'s) value: a final Airflow 3 release number, else a one-line error."""
    try:
        version = Version(text)
    except InvalidVersion:
        raise UserError(f"{option} {text}: not a version number",
                        f"give a released Airflow 3 version, e.g. {option} 3.3.2") from None
    if version.major != 3 or version.is_prerelease or version.is_devrelease or len(version.release) != 3:
        raise UserError(f"{option} {text}: upgrade-check compares released Airflow 3 versions (3.X.Y)",
                        f"e.g. {option} 3.3.2 (the pinned one is {VERSIONS.airflow})")
    return str(version)


def check_provider_version(text: str) -> str:
    try:
        return str(Version(text))
    except InvalidVersion:
        raise UserError(f"--provider-version {text}: not a version number",
                        f"give a released {PROVIDER} version, e.g. --provider-version 10.25.0") from None


def airflow_requirement(version: str, pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    """The pinned `airflow` extra (pyproject.toml) at another version: the same extras, so the same providers."""
    data = tomllib.loads(pyproject.read_text())
    for line in data["project"]["optional-dependencies"]["airflow"]:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.name == "apache-airflow":
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            return f"apache-airflow{extras}=={version}"
    raise UserError("pyproject.toml's airflow extra names no apache-airflow", "restore it: git checkout pyproject.toml")


def folder(version: str) -> Path:
    return STATE_ROOT / "upgrade-check" / version


def pinned_constraint(text: str, package: str) -> str | None:
    """The version a constraints file pins `package` to."""
    match = re.search(rf"^{re.escape(package)}==(\S+)\s*$", text, re.MULTILINE | re.IGNORECASE)
    return match.group(1) if match else None


def constraints(version: str, where: Path) -> tuple[str | None, str]:
    """Airflow's constraints of `version` for the sessions' Python (fetched once, kept in `where`), and why not
    when they cannot be had."""
    cached = where / f"constraints-{VERSIONS.python}.txt"
    if cached.is_file():
        return cached.read_text(), f"Airflow's constraints ({rel(cached)})"
    url = CONSTRAINTS_URL.format(version=version, python=VERSIONS.python)
    try:
        answer = httpx.get(url, timeout=15, follow_redirects=True)
    except httpx.HTTPError as exc:
        return None, f"Airflow's constraints unreachable ({type(exc).__name__}: {exc}): resolved against PyPI"
    if answer.status_code != 200:
        return None, f"Airflow's constraints unreachable (HTTP {answer.status_code} from {url}): resolved against PyPI"
    where.mkdir(parents=True, exist_ok=True)
    cached.write_text(answer.text)
    return answer.text, f"Airflow's constraints ({url})"


def prepare(runner: Runner, version: str, provider: str | None = None) -> NewEnvironment:
    """The environment of Airflow `version` (with `provider`, else the constraints' or the resolver's), made or
    reused. In a dry run, the commands are printed and nothing is made."""
    home = folder(version)
    venv = home / "venv"
    python = venv / "bin" / "python"
    if runner.dry_run:
        runner.plan(f"fetch {CONSTRAINTS_URL.format(version=version, python=VERSIONS.python)} (kept in {rel(home)})")
    text, resolution = (None, "dry run") if runner.dry_run else constraints(version, home)
    pinned = provider or (pinned_constraint(text, PROVIDER) if text else None)
    if provider:
        resolution = "given with --provider-version"
    sh_version = lockfile.versions((REPO_ROOT / "uv.lock").read_text()).get("sh")
    wanted = [airflow_requirement(version), f"{PROVIDER}=={pinned}" if pinned else PROVIDER,
              f"sh=={sh_version}" if sh_version else "sh"]
    fingerprint = hashlib.sha256(json.dumps({"wanted": wanted, "constraints": text, "python": VERSIONS.python,
                                             "uv": VERSIONS.uv}, sort_keys=True).encode()).hexdigest()
    stamp = home / "installed.json"
    if not runner.dry_run and python.is_file() and stamp.is_file():
        made = json.loads(stamp.read_text())
        if made.get("fingerprint") == fingerprint:
            runner.ok(f"environment of Airflow {version} reused ({rel(venv)}): unchanged since it was made")
            return NewEnvironment(version, python, made["provider"], made["resolution"], reused=True)
    # --no-config: the repository's pyproject.toml holds the lock's settings for uv (exclude-newer: packages as
    # of the pinned release), which would hide every newer Airflow from this install.
    uv = _uv()
    runner.run([uv, "venv", "--no-config", "--quiet", "--clear", "--python", VERSIONS.python, str(venv)], timeout=300,
               fix="uv finds or downloads the Python it names: check `uv python list`")
    install = [uv, "pip", "install", "--no-config", "--quiet", "--python", str(python), *wanted]
    if text is not None:
        constraint_file = home / "constraints.txt"
        if not runner.dry_run:
            # The given provider version wins over the constraints' own pin of it.
            constraint_file.write_text(text if not provider else re.sub(
                rf"^{re.escape(PROVIDER)}==.*$", "", text, flags=re.MULTILINE | re.IGNORECASE))
        install += ["--constraint", str(constraint_file)]
    runner.run(install, timeout=1200, env={**os.environ, **INSTALL_ENV},
               fix=f"check that apache-airflow {version} and {wanted[1]} exist on PyPI and install together")
    if runner.dry_run:
        return NewEnvironment(version, python, pinned or "(resolved)", resolution, reused=False)
    listed = runner.read([uv, "pip", "list", "--no-config", "--color", "never", "--format", "json", "--python",
                          str(python)]).stdout
    installed = next((p["version"] for p in json.loads(listed) if p["name"].lower() == PROVIDER), "unknown")
    if not pinned and text is None:
        resolution = f"{resolution}: the resolver picked {installed}"
    stamp.write_text(json.dumps({"fingerprint": fingerprint, "provider": installed, "resolution": resolution,
                                 "wanted": wanted}, indent=1))
    return NewEnvironment(version, python, installed, resolution, reused=False)


def _uv() -> str:
    """The uv of this package's own environment (pyproject pins it), else the one on PATH."""
    try:
        import uv
    except ImportError:
        return "uv"
    return str(uv.find_uv_bin())
