"""The report: checks chosen per provider, a failing check is a finding, bad input is one line."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from automation.doctor import run
from automation.doctor.findings import ok
from automation.doctor.probe import Probe
from tests.conftest import REPO, run_cli


def test_composer_gets_no_cluster_check_and_is_told_why(probe_for: Callable[..., Probe],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []
    fake = tuple((name, lambda p, name=name: called.append(name) or ok(name, "fine"), cluster)
                 for name, _, cluster in run.CHECKS)
    monkeypatch.setattr(run, "CHECKS", fake)
    findings = run.diagnose(probe_for("composer"))
    assert [f.check for f in findings] == [name for name, _, _ in run.CHECKS]
    assert sorted(called) == sorted(["tools", "worker images", "DAG gate", "airflow api"])
    skipped = [f for f in findings if f.status == "n/a"]
    assert len(skipped) == 7 and all("Cloud Composer" in f.message for f in skipped)


def test_a_check_that_raises_is_a_blocker_line(probe_for: Callable[..., Probe]) -> None:
    def broken(probe: Probe) -> None:
        raise KeyError("status")

    finding = run.run_check("cpu/memory", broken, probe_for("existing"))  # type: ignore[arg-type]
    assert finding.status == "blocker" and "KeyError" in finding.message and "-v" in finding.fix


def one_line_error(args: list[str], expected: str, tmp_path: Path) -> None:
    result = run_cli("doctor", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["--target", "nope"], "unknown target 'nope'"),
    (["--target", "existing", "--bogus"], "unrecognized arguments: --bogus"),
    (["--settings", "/nonexistent/overlay.yaml"], "/nonexistent/overlay.yaml"),
])
def test_bad_input_is_one_line(args: list[str], expected: str, tmp_path: Path) -> None:
    one_line_error(args, expected, tmp_path)


def test_an_unreachable_cluster_is_a_blocker_report_not_a_trace(tmp_path: Path) -> None:
    name = f"doctor-gone-{os.getpid()}"
    overlay = tmp_path / "o.yaml"
    overlay.write_text(f"targets:\n  {name}:\n    extends: existing\n"
                       f"    existing: {{kubeconfig: {tmp_path}/none.yaml}}\n")
    try:
        result = run_cli("doctor", "--target", name, "--settings", str(overlay), env={"KUBECONFIG": ""})
    finally:
        shutil.rmtree(REPO / ".state" / name, ignore_errors=True)  # the target's state folder, made by the run
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    context = next(line for line in result.stdout.splitlines() if " context " in line)
    assert context.startswith("BLOCKER") and "not reachable" in context and "-- fix: " in context
    assert "blocker(s)" in result.stdout.splitlines()[-1]
