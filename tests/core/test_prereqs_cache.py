"""A tool's version is asked once per binary file: the same path, size and modification time answer from the
cache; a replaced binary is asked again."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from automation.core import prereqs
from automation.core.runner import Runner


def _tool(tmp_path: Path, version: str) -> Path:
    script = tmp_path / "bin" / "fakehelm"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!/bin/sh\necho called >> {tmp_path / 'calls'}\necho v{version}+gabc\n")
    script.chmod(0o755)
    return script


def test_version_is_asked_once_per_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_CACHE_DIR", str(tmp_path / "cache"))
    binary = _tool(tmp_path, "3.19.0")
    tool = prereqs.Tool("fakehelm", [str(binary), "version"], prereqs._first_version, "3.0.0", "install it")
    runner = Runner(out=io.StringIO())
    assert prereqs._version(runner, tool, str(binary)) == "3.19.0"
    assert prereqs._version(runner, tool, str(binary)) == "3.19.0"
    assert (tmp_path / "calls").read_text().count("called") == 1
    _tool(tmp_path, "3.20.10")  # a new release over the old file: another size
    os.utime(binary, ns=(1, 1))
    assert prereqs._version(runner, tool, str(binary)) == "3.20.10"
    assert (tmp_path / "calls").read_text().count("called") == 2
