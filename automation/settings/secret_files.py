"""The projects' secret files, before anything reads them: one that git tracks is refused (the next push would
publish it), and an absent `secret.env` is made from its committed template (`secret.env.example`), whose values
let the examples run as they are. An existing file is never written."""

from __future__ import annotations

from pathlib import Path

from automation.core.errors import UserError
from automation.core.paths import rel, write_private
from automation.core.runner import Runner
from automation.settings.model import Target
from automation.settings.projects import ProjectFiles, project_files


def prepare_secret_files(runner: Runner, target: Target) -> list[Path]:
    """Refuse a tracked secret file of the target's projects, then make each absent `secret.env` whose project has
    a template. Returns the files made (said in the output). Runs in a dry run too: it writes only a git-ignored
    file of this machine, and the plan needs the values."""
    projects = [project_files(name, target) for name in target.projects]
    present = [path for files in projects for path in (files.secret, files.overlay(files.secret, target.name))
               if path.is_file()]
    tracked = tracked_by_git(runner, present)
    if tracked:
        raise UserError(f"{rel(tracked[0])} is tracked by git, so its secrets would be committed",
                        f"untrack it (it stays on disk, git-ignored): git rm --cached {rel(tracked[0])}")
    made = [files.secret for files in projects if make_from_template(files)]
    for path in made:
        runner.say(f"    made {rel(path)} from its template (its values run the examples; put real ones in it)")
    return made


def make_from_template(files: ProjectFiles) -> bool:
    """`secret.env` from `secret.env.example` when the first is absent and the second exists."""
    if files.secret.exists() or not files.template.is_file():
        return False
    write_private(files.secret, files.template.read_text())
    return True


def tracked_by_git(runner: Runner, paths: list[Path]) -> list[Path]:
    """Those of `paths` in git's index (committed, or added). Outside a git work tree, or without git: none."""
    tracked: list[Path] = []
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        by_folder.setdefault(path.resolve().parent, []).append(path.resolve())
    for folder, files in by_folder.items():
        result = runner.try_read(["git", "ls-files", "-z", "--", *(p.name for p in files)], cwd=folder, timeout=30)
        if result is None:
            continue
        listed = {name for name in result.stdout.split("\0") if name}
        tracked += [path for path in files if path.name in listed]
    return tracked
