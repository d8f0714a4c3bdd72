"""The documentation holds together without building it (`nox -s docs` builds it strictly in CI): every page is
in the site's nav and every nav entry is a page, every link of the README and the project files resolves, every
docs/ page the code or the settings name exists, the package layout names every package, the changelog has the
package's version, and the first-DAG tutorial's files pass the DAG gate and run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_cli
from tests.documentation import DOCS

PROJECT_FILES = ["README.md", "CHANGELOG.md", "CONTRIBUTING.md", "SECURITY.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def nav_pages(entries: list) -> list[str]:
    out: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        out += nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_every_page_is_in_the_nav_once_and_every_nav_entry_is_a_page() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    nav = nav_pages(config["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages
    assert len(nav) == len(set(nav))


@pytest.mark.parametrize("name", PROJECT_FILES)
def test_links_of_the_project_files_resolve(name: str) -> None:
    text = (REPO / name).read_text()
    links = [link for link in LINK.findall(text) if not link.startswith(("http://", "https://", "mailto:", "#"))]
    for link in links:
        assert (REPO / link.split("#", 1)[0]).exists(), f"{name}: {link} does not exist"
    if name == "README.md":
        assert {link for link in links if link.startswith("docs/")} >= {
            f"docs/{page}" for page in ("tutorials/first-hour.md", "reference/cli.md", "reference/targets-yaml.md")
        }


def test_the_readme_stays_short() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 160, f"README.md has {len(lines)} lines: move the detail into docs/"
    assert "## Quickstart" in lines


def test_every_docs_page_the_code_names_exists() -> None:
    named = set()
    for path in [
        *REPO.glob("automation/**/*.py"),
        REPO / "targets.yaml",
        *REPO.glob("tests/**/*.py"),
        *REPO.glob(".github/workflows/*.yml"),
        *REPO.glob(".ci/*"),
    ]:
        if path.is_file():
            named |= set(re.findall(r"docs/[\w/.-]+\.md", path.read_text()))
    named.discard("docs/**/*.md")
    assert named, "no docs/ page named anywhere: the pattern is wrong"
    for page in sorted(named):
        assert (REPO / page).is_file(), f"{page} is named in the code but does not exist"


def test_the_package_layout_names_every_package() -> None:
    layout = (DOCS / "reference" / "package-layout.md").read_text()
    packages = sorted(p.parent.name for p in (REPO / "automation").glob("*/__init__.py"))
    assert len(packages) >= 10
    for package in packages:
        assert re.search(rf"^  {package}/ ", layout, re.M), f"automation/{package}/ is missing from the layout"


def test_the_changelog_has_the_packages_version() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert re.search(r"^## \[Unreleased\]", changelog, re.M)
    assert re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d\d-\d\d$", changelog, re.M), version


def test_the_license_is_apache_2() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def tutorial_files() -> dict[str, str]:
    """The files the first-DAG tutorial has the reader write: its code blocks with a `title="PATH"`."""
    text = (DOCS / "tutorials" / "first-dag.md").read_text()
    return dict(re.findall(r'```\w+ title="([^"]+)"\n(.*?)```', text, re.S))


def test_the_tutorials_projects_line_is_targets_yaml_plus_hello() -> None:
    text = (DOCS / "tutorials" / "first-dag.md").read_text()
    line = re.search(r"^  projects: \[(.*)\]$", text, re.M)
    assert line is not None
    current = yaml.safe_load((REPO / "targets.yaml").read_text())["defaults"]["projects"]
    assert [p.strip() for p in line.group(1).split(",")] == [*current, "hello"]


def test_the_first_dag_tutorial_passes_the_dag_gate_and_its_script_runs(tmp_path: Path) -> None:
    files = tutorial_files()
    assert set(files) == {"k8s/hello/config.env", "dags/hello/scripts/greet.py", "dags/hello/hello.py"}
    shutil.copytree(REPO / "dags", tmp_path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "k8s", tmp_path / "k8s")
    for template in (tmp_path / "k8s").glob("*/secret.env.example"):  # the quickstart's step
        shutil.copy(template, template.with_suffix(""))
    for path, body in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body)
    projects = [*yaml.safe_load((REPO / "targets.yaml").read_text())["defaults"]["projects"], "hello"]
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"defaults": {"projects": projects, "projects_dir": str(tmp_path / "k8s")}}))
    proc = run_cli(
        "dags",
        "--target",
        "local",
        "--settings",
        str(overlay),
        "--dags-folder",
        str(tmp_path / "dags"),
        "--no-server",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hello/hello.py  (hello; 1 tasks)" in proc.stdout
    config = dict(
        line.split("=", 1) for line in files["k8s/hello/config.env"].splitlines() if line and not line.startswith("#")
    )
    data = tmp_path / "data" / "hello"
    run = subprocess.run(
        [sys.executable, str(tmp_path / "dags/hello/scripts/greet.py")],
        capture_output=True,
        text=True,
        env={"DATA_ROOT": str(data), **config},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (data / "output" / "greeting.txt").read_text() == "Hello from Airflow\n"


def nox_sessions() -> set[str]:
    """Every session noxfile.py defines: the commands of COMMANDS and each `@nox.session` function (or its name=)."""
    text = (REPO / "noxfile.py").read_text()
    commands = set(re.findall(r'^    \("([a-z-]+)", "', text, re.M))
    decorated = set()
    for options, function in re.findall(r"^@nox\.session\(([^)]*)\)\ndef (\w+)", text, re.M):
        named = re.search(r'name="([a-z-]+)"', options)
        decorated.add(named.group(1) if named else function)
    return commands | decorated


def test_the_commands_page_names_every_nox_session() -> None:
    sessions = nox_sessions()
    assert {"up", "tools", "lint", "tests", "lock", "docs", "google-double"} <= sessions
    page = (DOCS / "reference" / "cli.md").read_text()
    for session in sorted(sessions):
        assert f"`nox -s {session}" in page, f"nox -s {session} is missing from docs/reference/cli.md"
