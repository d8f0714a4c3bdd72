"""`settings.secret_files`: an absent secret.env is made from its template (said, never overwriting), and a secret
file git tracks is refused before anything is made, in a real git repository; `up` refuses it as one line."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import yaml

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.settings import load_target
from automation.settings.model import Target
from automation.settings.secret_files import prepare_secret_files
from tests.conftest import run_cli


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with three projects: `a` and `b` with a template, `c` with none."""
    root = tmp_path / "repo"
    for name, template in (("a", "TOKEN=from-a-template\n"), ("b", "URL=from-b-template\n"), ("c", None)):
        folder = root / "k8s" / name
        folder.mkdir(parents=True)
        (folder / "config.env").write_text("MODE=test\n")
        if template:
            (folder / "secret.env.example").write_text(template)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "projects")
    return root


def overlay(repo: Path) -> Path:
    path = repo / "settings.yaml"
    path.write_text(yaml.safe_dump({"targets": {"t": {
        "extends": "existing", "existing": {"kubeconfig": str(repo / "no-kubeconfig")},
        "projects": ["a", "b", "c"], "projects_dir": str(repo / "k8s")}}}))
    return path


def target(repo: Path) -> Target:
    return load_target("t", [str(overlay(repo))])


def runner() -> Runner:
    return Runner(out=io.StringIO())


def said(run: Runner) -> str:
    assert isinstance(run.out, io.StringIO)
    return run.out.getvalue()


def test_absent_files_are_made_from_their_templates_and_said(repo: Path) -> None:
    run = runner()
    made = prepare_secret_files(run, target(repo))
    a, b = repo / "k8s/a/secret.env", repo / "k8s/b/secret.env"
    assert made == [a, b]
    assert a.read_text() == "TOKEN=from-a-template\n" and b.read_text() == "URL=from-b-template\n"
    assert a.stat().st_mode & 0o777 == 0o600
    assert not (repo / "k8s/c/secret.env").exists()  # no template: a project without a Secret
    for path in (a, b):
        assert f"made {path} from its template" in said(run)
    # Made once: a second run makes and says nothing.
    again = runner()
    assert prepare_secret_files(again, target(repo)) == []
    assert said(again) == ""


def test_a_present_file_is_never_touched(repo: Path) -> None:
    mine = repo / "k8s/a/secret.env"
    mine.write_text("TOKEN=my-real-token\n")
    run = runner()
    assert prepare_secret_files(run, target(repo)) == [repo / "k8s/b/secret.env"]
    assert mine.read_text() == "TOKEN=my-real-token\n"
    assert "k8s/a/secret.env" not in said(run)


@pytest.mark.parametrize("name", ["secret.env", "secret.t.env"])
def test_a_tracked_secret_file_is_refused_before_anything_is_made(repo: Path, name: str) -> None:
    tracked = repo / "k8s/a" / name
    tracked.write_text("TOKEN=committed-by-mistake\n")
    git(repo, "add", "-f", str(tracked))  # staged is enough: the next commit takes it
    with pytest.raises(UserError) as refused:
        prepare_secret_files(runner(), target(repo))
    assert refused.value.line() == (f"error: {tracked} is tracked by git, so its secrets would be committed -- "
                                    f"untrack it (it stays on disk, git-ignored): git rm --cached {tracked}")
    assert not (repo / "k8s/b/secret.env").exists()
    git(repo, "rm", "-q", "--cached", str(tracked))  # the fix it names
    prepare_secret_files(runner(), target(repo))
    assert tracked.read_text() == "TOKEN=committed-by-mistake\n"


def test_outside_a_git_work_tree_nothing_is_tracked(tmp_path: Path, repo: Path) -> None:
    subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)
    (repo / "k8s/a/secret.env").write_text("TOKEN=x\n")
    assert prepare_secret_files(runner(), target(repo)) == [repo / "k8s/b/secret.env"]


def test_up_refuses_a_tracked_secret_file_in_one_line(repo: Path) -> None:
    tracked = repo / "k8s/a/secret.env"
    tracked.write_text("TOKEN=committed-by-mistake\n")
    git(repo, "add", "-f", str(tracked))
    result = run_cli("up", "--target", "t", "--settings", str(overlay(repo)), "--skip-dags-check")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {tracked} is tracked by git, so its secrets would be "
                                                  f"committed -- untrack it (it stays on disk, git-ignored): "
                                                  f"git rm --cached {tracked}"]
    assert "$ " not in result.stdout  # no command ran
    assert not (repo / "k8s/b/secret.env").exists()
