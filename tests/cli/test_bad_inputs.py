"""Bad input battery: each case exits non-zero with ONE line naming the problem and the fix, no traceback,
and nothing made is destroyed (every case fails before any change)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def project_overlay(tmp_path: Path, secret: str | None, template: str = "TOKEN=change-me\n") -> str:
    folder = tmp_path / "projects" / "proj"
    write(folder / "config.env", "A=1\n")
    write(folder / "secret.env.example", template)
    if secret is not None:
        write(folder / "secret.env", secret)
    return write(tmp_path / "o.yaml", f"""
targets:
  t:
    extends: existing
    projects: [proj]
    projects_dir: {tmp_path / "projects"}
""")


def tracked_secret(tmp_path: Path) -> str:
    """A project whose secret.env git tracks (added by mistake)."""
    settings = project_overlay(tmp_path, "TOKEN=oops\n")
    subprocess.run(["git", "init", "-q", str(tmp_path / "projects")], check=True)
    subprocess.run(["git", "add", "-f", "proj/secret.env"], cwd=tmp_path / "projects", check=True)
    return settings


def busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


CASES = {
    "unknown target": (lambda t: ["status", "--target", "nope"], "unknown target 'nope'"),
    "invalid yaml": (lambda t: ["up", "--dry-run", "--settings", write(t / "b.yaml", "targets: [oops\n")],
                     "invalid YAML"),
    "missing key": (lambda t: ["up", "--dry-run", "--target", "x", "--settings",
                               write(t / "m.yaml", "targets:\n  x: {namespace: a}\n")],
                    "targets.x.provider: missing required key"),
    "negative cpus": (lambda t: ["up", "--dry-run", "--cpus", "-2"], "expected a positive number, got -2"),
    "too few cpus for minikube": (lambda t: ["up", "--dry-run", "--cpus", "1"], "--cpus"),
    "more memory than the host": (lambda t: ["up", "--cpus", "2", "--memory", "99999999"],
                                  "minikube asks for 99999999 MB of memory but"),
    "more cpus than the host": (lambda t: ["up", "--cpus", "4096"], "minikube asks for 4096 CPUs but"),
    "missing binary": (lambda t: ["up", "--cpus", "2", "--memory", "2048"], "minikube not found"),
    "nonexistent mount path": (lambda t: ["up", "--dry-run", "--target", "t", "--settings", write(
        t / "p.yaml", "targets:\n  t:\n    extends: existing\n    mounts:\n      dags: {host: /nonexistent/dags, "
        "node: /x}\n      data: {host: data, node: /y}\n")], "mount source /nonexistent/dags does not exist"),
    "port out of range": (lambda t: ["up", "--dry-run", "--port", "80"], "expected a port between 1024 and 65535"),
    "secret file tracked by git": (lambda t: ["up", "--dry-run", "--target", "t", "--settings",
                                              tracked_secret(t)], "git rm --cached"),
    "malformed project secret file": (lambda t: ["up", "--dry-run", "--target", "t", "--settings",
                                                 project_overlay(t, "this is not a pair\n")], "expected KEY=VALUE"),
    "secret file missing a key": (lambda t: ["up", "--dry-run", "--target", "t", "--settings",
                                             project_overlay(t, "OTHER=1\n")], "missing key TOKEN"),
    "chart version not a version": (lambda t: ["up", "--dry-run", "--settings",
                                               write(t / "c.yaml", "defaults:\n  chart: {version: banana}\n")],
                                    "targets.local.chart.version"),
    "chart path missing": (lambda t: ["up", "--dry-run", "--target", "existing", "--settings",
                                      write(t / "cp.yaml", "defaults:\n  chart: {source: path, path: /nope}\n")],
                           "chart path /nope does not exist"),
    "values file missing": (lambda t: ["up", "--dry-run", "--values", "nope.yaml"], "nope.yaml does not exist"),
    "settings file missing": (lambda t: ["status", "--settings", "/nonexistent.yaml"], "does not exist"),
    "unknown option": (lambda t: ["up", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    "unknown command": (lambda t: ["fly"], "invalid choice: 'fly'"),
    "invalid namespace": (lambda t: ["status", "--settings", write(t / "n.yaml", "defaults:\n  namespace: Air_Flow\n")],
                          "namespace: expected a lowercase DNS name"),
    "typo in a key": (lambda t: ["status", "--settings", write(t / "k.yaml", "targets:\n  local:\n    cpu: 4\n")],
                      "targets.local.cpu: unknown key"),
    "database url file missing": (lambda t: ["up", "--dry-run", "--target", "t", "--settings", write(
        t / "d.yaml", "targets:\n  t:\n    extends: existing\n    database: {mode: external, url_file: /nope.url}\n")],
                                  "database URL file /nope.url does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line(case: str, tmp_path: Path) -> None:
    make_args, expected = CASES[case]
    env = {"PATH": str(tmp_path / "empty-bin")} if case == "missing binary" else None
    if case == "missing binary":
        (tmp_path / "empty-bin").mkdir()
    result = run_cli(*make_args(tmp_path), env=env, timeout=120)
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and " -- " in lines[0], lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    sock = busy_port()
    try:
        port = sock.getsockname()[1]
        if port < 1024:  # pragma: no cover
            pytest.fail("ephemeral port below 1024")
        result = run_cli("up", "--dry-run", "--target", "existing", "--port", str(port))
    finally:
        sock.close()
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: port {port} is already in use -- pass another --port, or stop what uses it"


def test_cases_are_at_least_fifteen() -> None:
    assert len(CASES) + 1 >= 15
    assert sys.executable
