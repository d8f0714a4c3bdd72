"""The documentation's generated references: the CLI page names every command and option of the real parser,
the targets.yaml page every key of the real settings model, each field's comment is its description, and every
marker a page uses is one the build replaces."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields, is_dataclass
from typing import Literal

from pydantic.dataclasses import dataclass as checked

from automation.cli import reference
from automation.cli.main import build_parser
from automation.settings import model
from tests.documentation import DOCS


def test_the_cli_reference_names_every_command_and_option() -> None:
    parser = build_parser()
    text = reference.cli_reference(parser)
    commands = reference.subcommands(parser)
    assert len(commands) >= 15 and {"up", "down", "images", "e2e", "doctor", "versions"} <= set(commands)
    for name, sub in commands.items():
        assert f"## `{name}`" in text, name
        section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        assert f"automation {name}" in section, name  # its usage line
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert flag in section or flag in text.split("## `", 1)[0], (name, flag)


def test_the_usage_does_not_depend_on_the_terminal(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    narrow = reference.cli_reference()
    monkeypatch.setenv("COLUMNS", "300")
    assert reference.cli_reference() == narrow


def _settings_classes(cls: type, path: str, out: dict[str, type]) -> dict[str, type]:
    out[path] = cls
    for f in fields(cls):  # type: ignore[arg-type]
        for candidate in (f.type, *getattr(f.type, "__args__", ())):
            nested = (
                getattr(model, str(candidate).split("|")[0].strip(), None) if isinstance(candidate, str) else candidate
            )
            if isinstance(nested, type) and is_dataclass(nested) and nested.__module__ == model.__name__:
                _settings_classes(nested, f"{path}.{f.name}", out)
    return out


def test_the_targets_reference_names_every_key_of_the_model() -> None:
    text = reference.targets_reference()
    sections = dict(re.findall(r"## `([^`]+)`\n\n(.*?)(?=\n## |\Z)", text, re.S))
    classes = _settings_classes(model.Target, "targets.NAME", {})
    assert {"targets.NAME.images", "targets.NAME.minikube", "targets.NAME.mounts.dags"} <= set(classes)
    for path, cls in classes.items():
        assert path in sections, path
        body = sections[path]
        same = re.search(r"The same keys as \[`([^`]+)`\]", body)
        body = sections[same.group(1)] if same else body
        for f in fields(cls):  # type: ignore[arg-type]
            if cls is model.Target and f.name in reference.NOT_IN_FILES:
                assert f"| `{f.name}` |" not in body
                continue
            assert f"| `{f.name}` |" in body, (path, f.name)


def test_defaults_and_required_blocks_come_from_the_model() -> None:
    text = reference.targets_reference()
    assert f"| `cpus` | integer >= 2 | `{model.Minikube.__dataclass_fields__['cpus'].default}` |" in text
    assert re.search(r"\| `minikube` \|[^\n]*Required by provider `minikube`", text)
    assert "| `project` | string | required |" in text  # gke.project has no default


@checked
class _Example:
    # What it is, on
    # two lines.
    first: int = 1
    second: Literal["a", "b"] = "a"

    # A comment after a blank line belongs to the next field only.
    third: str = ""


def test_the_comment_above_a_field_is_its_description() -> None:
    assert reference.field_comments(_Example) == {
        "first": "What it is, on two lines.",
        "third": "A comment after a blank line belongs to the next field only.",
    }


def test_every_marker_a_page_uses_is_replaced_and_every_generator_is_used() -> None:
    used = set()
    for page in DOCS.rglob("*.md"):
        text = page.read_text()
        used |= {marker for marker in reference.MARKERS if marker in text}
        expanded = reference.expand_markers(text, page.relative_to(DOCS).as_posix())
        assert "<!-- generated:" not in expanded and "<!-- readme:" not in expanded, page
    assert used == set(reference.MARKERS)


def test_the_tutorial_shows_the_readme_quickstart_as_it_is() -> None:
    quickstart = reference.readme_section("Quickstart")
    assert "nox -s up" in quickstart and "## " not in quickstart
    page = reference.expand_markers((DOCS / "tutorials" / "first-hour.md").read_text(), "tutorials/first-hour.md")
    assert quickstart in page


def test_the_readmes_links_into_docs_work_from_the_page_that_shows_them(monkeypatch, tmp_path) -> None:
    (tmp_path / "README.md").write_text("## Quickstart\nSee [the CLI](docs/reference/cli.md), [x](LICENSE).\n## Next\n")
    monkeypatch.setattr(reference, "REPO_ROOT", tmp_path)
    shown = reference.readme_section("Quickstart", "tutorials/first-hour.md")
    assert shown == "See [the CLI](../reference/cli.md), [x](LICENSE)."
