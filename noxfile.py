"""Thin sessions over the `automation` package: `nox -s up -- --target local`, etc.

Every session accepts the same arguments as `python -m automation COMMAND` (after `--`).
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
# Byte-compile at install: every command starts a fresh interpreter, and importing Airflow and the kubernetes
# client from source costs seconds (more where PYTHONDONTWRITEBYTECODE is set).
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
nox.options.sessions = ["lint", "tests"]

_here = os.path.dirname(os.path.abspath(__file__))


def _versions() -> dict[str, str]:
    import sys

    sys.path.insert(0, _here)
    from automation.versions import as_dict

    return as_dict()


V = _versions()
PYTHON = V["python"]
# Environments with Airflow resolve as of its release (its constraint files are not always reachable).
AIRFLOW_PINS = [f"apache-airflow[cncf.kubernetes,postgres]=={V['airflow']}"]


def _install(session: nox.Session, *extras: str, airflow: bool = False) -> None:
    if airflow:
        # Airflow and its dependencies as of its release; our own tools (installed next) may be newer.
        session.install(*AIRFLOW_PINS, env={"UV_EXCLUDE_NEWER": V["airflow_release_date"]})
    session.install("-e", f".[{','.join(extras)}]" if extras else ".")


def _automation(session: nox.Session, command: str) -> None:
    session.run("python", "-m", "automation", command, *session.posargs, external=False)


@nox.session(python=PYTHON)
def up(session: nox.Session) -> None:
    """Start or update the target's Airflow (default target: local)."""
    _install(session, airflow=True)
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
def e2e(session: nox.Session) -> None:
    """Trigger a DAG through the REST API and check its output (-- --dag example1 --timeout 600)."""
    _install(session)
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


@nox.session(name="rotate-fernet-key", python=PYTHON)
def rotate_fernet_key(session: nox.Session) -> None:
    """Rotate the Fernet key (NEW,OLD, re-encrypt); `-- --finish` drops the old key."""
    _install(session)
    _automation(session, "rotate-fernet-key")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff and mypy."""
    session.install("ruff", "mypy", "types-PyYAML")
    _install(session)
    session.run("ruff", "check", "automation", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite, cluster tests included (`-- -m cluster` for those alone)."""
    _install(session, "test", airflow=True)
    session.run("pytest", *session.posargs)
