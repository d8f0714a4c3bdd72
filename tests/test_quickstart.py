"""The README's quickstart as a newcomer types it: its commands, read from the README's "## Quickstart" code
block, run in order on a fresh clone with nothing else done first, each nox session with `-- --dry-run` added
(nothing on this machine is started or changed), through nox itself (each session makes its environment from
uv.lock). The only environment set is none the README asks for: the suite's own virtualenv is removed, as in a
user's shell."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from automation.settings.model import Minikube
from tests.conftest import REPO, fresh_clone, need


def quickstart(readme: str) -> tuple[str, list[str]]:
    """The Quickstart section's text and the commands of its first bash block (comments and blank lines dropped,
    as a shell drops them)."""
    section = re.search(r"^## Quickstart\n(.*?)(?=^##? )", readme, re.S | re.M)
    assert section, "README.md has no '## Quickstart' section"
    block = re.search(r"^```bash\n(.*?)^```", section.group(1), re.S | re.M)
    assert block, "the Quickstart section has no ```bash block"
    commands = [line for line in (shlex.split(raw, comments=True) for raw in block.group(1).splitlines()) if line]
    return section.group(1), [shlex.join(words) for words in commands]


def dry_run(command: str) -> list[str]:
    """A nox line with `--dry-run` for the command the session runs (after `--`, added when absent)."""
    words = shlex.split(command)
    if words[0] != "nox":
        return words
    return [*words, "--dry-run"] if "--" in words else [*words, "--", "--dry-run"]


def test_the_parser_reads_a_block_as_a_shell_does() -> None:
    _, commands = quickstart("## Quickstart\nsome text\n```bash\ncp a b   # note\n\nnox -s up -- --target x\n```\n"
                             "## Next\n```bash\nnot this\n```\n")
    assert commands == ["cp a b", "nox -s up -- --target x"]
    assert dry_run(commands[1]) == ["nox", "-s", "up", "--", "--target", "x", "--dry-run"]
    assert dry_run("nox -s e2e") == ["nox", "-s", "e2e", "--", "--dry-run"]


def test_the_quickstart_names_the_default_size() -> None:
    text, _ = quickstart((REPO / "README.md").read_text())
    size = Minikube()
    assert f"{size.cpus} CPUs and {size.memory_mb} MB by default" in text


def test_the_quickstart_runs_as_written_on_a_fresh_clone(tmp_path: Path) -> None:
    need(all(shutil.which(tool) for tool in ("nox", "uv", "git")), "nox, uv and git (the README's requirements)")
    text, commands = quickstart((REPO / "README.md").read_text())
    assert any(command.startswith("nox -s up") for command in commands)
    clone = fresh_clone(tmp_path / "clone")
    templates = sorted(clone.glob("k8s/*/secret.env.example"))
    assert templates and not any(t.with_suffix("").exists() for t in templates)
    before = git_status(clone)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    outputs = {}
    for command in commands:
        result = subprocess.run(dry_run(command), cwd=clone, capture_output=True, text=True, timeout=1800, env=env)
        print(f"$ {command}\n{result.stdout}\n{result.stderr}")
        assert result.returncode == 0, f"`{command}` failed as written:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        outputs[command] = result.stdout + result.stderr
    up = next(out for command, out in outputs.items() if command.startswith("nox -s up"))
    assert "Dry run complete: nothing was changed" in up
    # The secret files the first `up` makes, said as the README shows it, and each the template's copy.
    for template in templates:
        secret = template.with_suffix("")
        shown = secret.relative_to(clone).as_posix()
        line = next(line for line in text.splitlines() if f"made {shown} from its template" in line)
        assert line.strip() in up
        assert secret.read_text() == template.read_text()
    # Nothing a newcomer should commit is left for `git add -A` (secrets, environments, state are ignored).
    assert git_status(clone) == before


def git_status(clone: Path) -> str:
    """What `git add -A` would take (the fresh clone holds this checkout's uncommitted changes too)."""
    return subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True,
                          check=True).stdout
