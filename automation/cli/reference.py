"""The documentation's CLI and `targets.yaml` references, generated from the argument parser and the settings model.

`docs/hooks/generated.py` puts them into their pages while `nox -s docs` builds the site, so neither can go stale
and nothing generated is committed. The settings keys' descriptions are the comments written above each field of
`automation/settings/model.py`: a new field documents itself there.
"""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from automation.cli.args import common
from automation.cli.main import build_parser
from automation.core.paths import REPO_ROOT
from automation.settings import model
from automation.settings.files import _REQUIRED_BLOCKS

# Set by the loader, never written in a file: the target's name is its key, the files are the --settings given.
NOT_IN_FILES = ("name", "settings_files")
# The model's named string types, by the pattern their schema carries: said in words rather than as a regex.
PATTERN_NAMES = {
    TypeAdapter(model.DnsLabel).json_schema()["pattern"]: "a DNS label (lowercase letters, digits, -)",
    TypeAdapter(model.Quantity).json_schema()["pattern"]: "a Kubernetes quantity such as 5Gi",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands, in `--help` order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _usage(parser: argparse.ArgumentParser) -> str:
    # A fixed width: the page must not depend on the terminal that built it.
    formatter = argparse.HelpFormatter(prog=parser.prog, width=110)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip().removeprefix("usage: ")


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    names = ", ".join(action.option_strings)
    if action.nargs == 0:
        return names
    if action.choices:
        return f"{names} {{{','.join(str(c) for c in action.choices)}}}"
    metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    return f"{names} {metavar}"


def _options_table(actions: list[argparse.Action]) -> list[str]:
    rows = ["| argument | what it does |", "| --- | --- |"]
    for action in actions:
        rows.append(f"| `{_cell(_flags(action))}` | {_cell(action.help or '')} |")
    return rows


def _documented(parser: argparse.ArgumentParser, skip: set[str]) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction) and a.dest not in skip
    ]


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """Markdown: the options every command takes, then each command's usage and its own arguments."""
    parser = parser or build_parser()
    shared = argparse.ArgumentParser(add_help=False)
    common(shared)
    shared_dests = {a.dest for a in shared._actions}
    lines = [
        "## Options of every command",
        "",
        "Each command below takes these too (for example `up --target ci --dry-run`).",
        "",
        *_options_table(_documented(shared, set())),
        "",
    ]
    for name, sub in subcommands(parser).items():
        about = (sub.description or "").rstrip(".")
        lines += [f"## `{name}`", "", about[:1].upper() + about[1:] + ".", "", "```text", _usage(sub), "```", ""]
        own = _documented(sub, shared_dests)
        lines += [*_options_table(own), ""] if own else ["No arguments of its own.", ""]
    return "\n".join(lines)


def field_comments(cls: type) -> dict[str, str]:
    """The comment lines written directly above each field of a settings class, joined into one sentence."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        field = re.match(r"^\s+([a-z_]+)\s*:", line)
        if field and pending:
            comments[field.group(1)] = " ".join(pending)
        pending = []
    return comments


def _schema_type(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[str, str | None]:
    """A readable type for a JSON-schema property, and the settings class it refers to (a nested block)."""
    if "$ref" in schema:
        return "mapping (below)", schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        parts = [_schema_type(s, defs) for s in schema["anyOf"] if s.get("type") != "null"]
        nested = next((ref for _, ref in parts if ref), None)
        return " or ".join(text for text, _ in parts) + " or null", nested
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"]), None
    if "const" in schema:
        return f"`{schema['const']}`", None
    kind = schema.get("type", "any")
    if kind == "array":
        item, _ = _schema_type(schema.get("items", {}), defs)
        return f"list of {'strings' if item == 'string' else item}", None
    if schema.get("pattern") in PATTERN_NAMES:
        return PATTERN_NAMES[schema["pattern"]], None
    text = {"string": "string", "integer": "integer", "number": "number", "boolean": "true/false"}.get(kind, kind)
    limits = [
        f">= {schema['minimum']}" if "minimum" in schema else "",
        f"<= {schema['maximum']}" if "maximum" in schema else "",
        f"matching `{schema['pattern']}`" if "pattern" in schema else "",
    ]
    return " ".join([text, *(limit for limit in limits if limit)]), None


def _default(schema: dict[str, Any], required: bool) -> str:
    if required:
        return "required"
    if "default" not in schema:
        return "its own defaults" if "$ref" in schema else "`[]`" if schema.get("type") == "array" else ""
    value = schema["default"]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return _code(str(value).lower())
    return _code(str(value)) if value != "" else '`""`'


def _section(
    title: str, cls: type, schema: dict[str, Any], defs: dict[str, Any], skip: tuple[str, ...] = ()
) -> tuple[list[str], list[tuple[str, str]]]:
    comments = field_comments(cls)
    required = set(schema.get("required", []))
    rows = ["| key | type | default | what it is |", "| --- | --- | --- | --- |"]
    nested: list[tuple[str, str]] = []
    for key, prop in schema["properties"].items():
        if key in skip:
            continue
        kind, ref = _schema_type(prop, defs)
        note = comments.get(key, "")
        providers = [p for p, blocks in _REQUIRED_BLOCKS.items() if key in blocks] if cls is model.Target else []
        if providers:
            note = (note + " " if note else "") + "Required by provider " + ", ".join(f"`{p}`" for p in providers) + "."
        rows.append(f"| `{key}` | {_cell(kind)} | {_cell(_default(prop, key in required))} | {_cell(note)} |")
        if ref:
            nested.append((f"{title}.{key}", ref))
    return rows, nested


def targets_reference() -> str:
    """Markdown: every key a target may set in `targets.yaml` (or `defaults:`, or an overlay), block by block."""
    schema = TypeAdapter(model.Target).json_schema()
    defs = schema.get("$defs", {})
    lines: list[str] = []
    queue: list[tuple[str, str | None]] = [("targets.NAME", None)]
    done: dict[str, str] = {}
    while queue:
        title, ref = queue.pop(0)
        if ref is not None and ref in done:
            lines += [f"## `{title}`", "", f"The same keys as [`{done[ref]}`](#{_anchor(done[ref])}).", ""]
            continue
        cls = model.Target if ref is None else getattr(model, ref)
        body = schema if ref is None else defs[ref]
        rows, nested = _section(title, cls, body, defs, NOT_IN_FILES if ref is None else ())
        lines += [f"## `{title}`", "", *rows, ""]
        if ref is not None:
            done[ref] = title
        queue += nested
    return "\n".join(lines)


def _anchor(title: str) -> str:
    """The id MkDocs' toc extension gives a heading `title` (in backticks)."""
    return re.sub(r"[^\w\- ]", "", title).strip().lower().replace(" ", "-")


def readme_section(title: str, page: str = "index.md") -> str:
    """One `## TITLE` section of README.md, up to the next `## ` heading: the docs show the README's own text. Its
    links into docs/ are made relative to `page` (a path under docs/), where the section is shown."""
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    start = lines.index(f"## {title}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    section = "\n".join(lines[start + 1 : end]).strip()
    up = "../" * page.count("/")
    return re.sub(r"\]\(docs/", f"]({up}", section)


# Where a page of docs/ takes a generated part: the marker, alone on its line, is replaced at build time.
MARKERS: dict[str, Callable[[str], str]] = {
    "<!-- generated: cli -->": lambda page: cli_reference(),
    "<!-- generated: targets.yaml -->": lambda page: targets_reference(),
    "<!-- readme: Quickstart -->": lambda page: readme_section("Quickstart", page),
}


def expand_markers(markdown: str, page: str = "index.md") -> str:
    """The markdown of `page` (its path under docs/) with each marker replaced by what it stands for: the MkDocs
    hook's one job."""
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make(page))
    return markdown
