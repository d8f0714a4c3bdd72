"""`automation completion SHELL`: the script bash runs completes every command the parser has, and its options."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from automation.cli.completion import SHELLS
from automation.cli.main import build_parser
from tests.conftest import need, run_cli


def commands() -> list[str]:
    (sub,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = run_cli("completion", "bash")
    assert made.returncode == 0, made.stderr
    path = tmp_path_factory.mktemp("completion") / "automation.bash"
    path.write_text(made.stdout)
    return path


def complete(script: Path, line: str) -> list[str]:
    """What bash offers on TAB at the end of LINE, through the script's own completion function."""
    need(shutil.which("bash") is not None, "bash")
    program = ('source "$1"; read -ra COMP_WORDS <<< "$2"; [[ "$2" == *" " ]] && COMP_WORDS+=("");'
               ' COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$2"; COMP_POINT=${#COMP_LINE};'
               ' _shtab_automation; printf "%s\\n" "${COMPREPLY[@]}"')
    result = subprocess.run(["bash", "-c", program, "bash", str(script), line], capture_output=True, text=True,
                            timeout=30, check=True)
    return result.stdout.split()


def test_the_bash_script_is_valid_bash(bash_script: Path) -> None:
    checked = subprocess.run(["bash", "-n", str(bash_script)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert bash_script.read_text().rstrip().endswith("automation")  # `complete ... automation`: the console script


def test_every_command_completes(bash_script: Path) -> None:
    names = commands()
    assert {"up", "down", "status", "tools", "completion"} <= set(names)
    assert sorted(complete(bash_script, "automation ")) == sorted(names)
    assert complete(bash_script, "automation st") == ["status"]


def test_a_commands_options_complete(bash_script: Path) -> None:
    assert complete(bash_script, "automation up --dry") == ["--dry-run"]
    assert "--target" in complete(bash_script, "automation status --")


@pytest.mark.parametrize("shell", SHELLS)
def test_each_shell_gets_a_script_naming_every_command(shell: str) -> None:
    made = run_cli("completion", shell)
    assert made.returncode == 0, made.stderr
    for name in commands():
        assert name in made.stdout, f"{shell}: {name}"


def test_an_unknown_shell_is_one_line() -> None:
    refused = run_cli("completion", "fish")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "invalid choice: 'fish'" in refused.stderr
    assert "Traceback" not in refused.stderr
