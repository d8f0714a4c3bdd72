"""The `automation` console script of an installed package (`pip install .`), in a venv of its own: the entry
point pyproject.toml names exists and answers."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

from tests.conftest import REPO, fresh_clone, need


def test_the_installed_console_script_runs(tmp_path: Path) -> None:
    need(shutil.which("uv") is not None and shutil.which("git") is not None, "uv and git")
    clone = fresh_clone(tmp_path / "clone")  # a built package carries what git holds, not this tree's caches
    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "-q", "-p", "3.11", str(venv)], check=True, timeout=300)
    # The lock's versions as constraints: the same packages the sessions run with, nothing from the day's index.
    constraints = tmp_path / "constraints.txt"
    subprocess.run(["uv", "export", "--frozen", "--no-hashes", "--no-emit-project", "--all-extras", "-q", "-o",
                    str(constraints)], cwd=REPO, check=True, timeout=300)
    subprocess.run(["uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-c", str(constraints),
                    str(clone)], check=True, timeout=600)
    script = venv / "bin" / "automation"
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: automation") and ",up,down," in helped.stdout
    # Not a source tree: the version comes from the installed metadata, which carries pyproject.toml's.
    version = tomllib.loads((clone / "pyproject.toml").read_text())["project"]["version"]
    shown = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout == f"automation {version}\n", shown.stderr
    completion = subprocess.run([str(script), "completion", "bash"], capture_output=True, text=True, timeout=120,
                                cwd=tmp_path)
    assert completion.returncode == 0 and "complete -o filenames -F _shtab_automation automation" in completion.stdout
    bad = subprocess.run([str(script), "no-such-command"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
