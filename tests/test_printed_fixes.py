"""Every command the package prints for a user to copy runs as printed in a nox-only set-up (nox and uv, no
installed `automation`): a `nox -s NAME` it names is a session of noxfile.py, and no fix says
`python -m automation ...`, which needs the package in the shell's own Python."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from tests.conftest import REPO, nox_sessions, run_cli


def printed_strings() -> list[tuple[str, int, str]]:
    """(file, line, text) of every string literal in automation/, f-strings' literal parts included; docstrings
    left out (they are for readers of the code)."""
    found = []
    for path in sorted((REPO / "automation").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                found.append((str(path.relative_to(REPO)), node.lineno, node.value))
    return found


def test_every_printed_nox_command_names_a_session_and_none_says_python_m_automation() -> None:
    sessions = nox_sessions()
    strings = printed_strings()
    named = [(f, n, m) for f, n, text in strings for m in re.findall(r"\bnox -s ([a-z][a-z0-9-]*)", text)]
    assert any(m == "tools" for _, _, m in named)  # the prerequisites' fix
    for file, line, session in named:
        assert session in sessions, f"{file}:{line} prints `nox -s {session}`, which noxfile.py does not define"
    for file, line, text in strings:
        assert "`python -m automation " not in text, f"{file}:{line} prints a fix that needs an installed package"


def test_tools_ends_with_a_line_that_puts_the_pinned_tools_on_path() -> None:
    shown = run_cli("tools", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    line = shown.stdout.strip().splitlines()[-1]
    assert line.startswith("export PATH=")
    # Pasted from another folder, as a user would into a new shell: the project's .tools/bin comes first.
    path = subprocess.run(["bash", "-c", f'{line}; printf %s "$PATH"'], cwd="/", capture_output=True, text=True,
                          check=True, timeout=30, env={"PATH": "/usr/bin:/bin"}).stdout
    assert path.split(":")[0] == str(REPO / ".tools" / "bin")
    assert path.endswith(":/usr/bin:/bin")
    assert Path(path.split(":")[0]).parent.parent == REPO
