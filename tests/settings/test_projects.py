"""A project's env files: the KEY=VALUE reader, per-target overlays, and the errors a missing secret gives."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.runner import mask
from automation.settings.projects import ProjectFiles, read_env_file


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_read_env_file_quotes_comments_and_export(tmp_path: Path) -> None:
    path = write(tmp_path / "config.env", "# a comment\n\nexport A=1\nB=\"two words\"\nC='single'\n"
                                          "  D=x=y  \nE=\"unbalanced'\nF=\n")
    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "single", "D": "x=y", "E": "\"unbalanced'",
                                   "F": ""}


@pytest.mark.parametrize("line", ["not a pair", "1BAD=x", "KEY VALUE=x", "export"])
def test_a_bad_line_names_file_and_line(tmp_path: Path, line: str) -> None:
    path = write(tmp_path / "config.env", f"A=1\n# fine\n{line}\n")
    with pytest.raises(UserError) as info:
        read_env_file(path)
    assert f"{path}:3: expected KEY=VALUE" in info.value.problem
    assert info.value.fix == "use KEY=VALUE lines"


def test_a_bad_secret_line_points_at_the_template(tmp_path: Path) -> None:
    template = write(tmp_path / "secret.env.example", "TOKEN=\n")
    path = write(tmp_path / "secret.env", "A=1\nTOKEN: abc\n")
    with pytest.raises(UserError) as info:
        read_env_file(path, template=template)
    assert f"{path}:2: expected KEY=VALUE" in info.value.problem
    assert info.value.fix == f"copy the layout of {template}"


def test_a_bad_secret_line_does_not_print_the_secret(tmp_path: Path) -> None:
    value = secrets.token_hex(8)
    path = write(tmp_path / "secret.env", f"TOKEN {value}\n")
    with pytest.raises(UserError) as info:
        read_env_file(path, template=write(tmp_path / "secret.env.example", "TOKEN=\n"))
    assert value not in mask(info.value.line())


def test_config_overlay_for_the_target_wins(tmp_path: Path) -> None:
    files = ProjectFiles("p", tmp_path / "p")
    write(files.config, "A=base\nB=base\n")
    write(files.folder / "config.gke.env", "B=gke\nC=gke\n")
    assert files.overlay(files.config, "gke") == files.folder / "config.gke.env"
    assert files.config_values("gke") == {"A": "base", "B": "gke", "C": "gke"}
    assert files.config_values("local") == {"A": "base", "B": "base"}
    assert ProjectFiles("q", tmp_path / "q").config_values("local") is None


def test_secret_overlay_wins_and_every_value_is_masked(tmp_path: Path) -> None:
    files = ProjectFiles("p", tmp_path / "p")
    local, gke = secrets.token_hex(8), secrets.token_hex(8)
    write(files.template, "TOKEN=\n")
    write(files.secret, f"TOKEN={local}\n")
    write(files.folder / "secret.gke.env", f"TOKEN={gke}\n")
    assert files.secret_values("gke") == {"TOKEN": gke}
    assert files.secret_values("local") == {"TOKEN": local}
    assert mask(f"{local} {gke}") == "****** ******"


def test_missing_secret_with_a_template_gives_the_cp_hint(tmp_path: Path) -> None:
    files = ProjectFiles("p", tmp_path / "p")
    write(files.template, "TOKEN=\n")
    with pytest.raises(UserError) as info:
        files.secret_values("local")
    assert "project 'p' has no secret file" in info.value.problem
    assert info.value.fix is not None and f"cp {files.template} {files.secret}" in info.value.fix


def test_missing_secret_without_a_template_is_no_secret(tmp_path: Path) -> None:
    files = ProjectFiles("p", tmp_path / "p")
    write(files.config, "A=1\n")
    assert files.secret_values("local") is None


def test_a_key_of_the_template_missing_from_the_secret(tmp_path: Path) -> None:
    files = ProjectFiles("p", tmp_path / "p")
    write(files.template, "TOKEN=\nPASSWORD=\n")
    write(files.secret, "TOKEN=abcd1234\n")
    with pytest.raises(UserError) as info:
        files.secret_values("local")
    assert info.value.problem == f"{files.secret}: missing key PASSWORD"
    assert info.value.fix == f"add it as in {files.template}"
