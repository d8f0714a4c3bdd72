"""The lock read as data and split into layers by requirements.in's order."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.images.build import discover
from automation.images.lock import UNREACHED_LAYER, direct_requirements, layers, read_lock

LOCK = """\
aiohttp==3.14.5 \\
    --hash=sha256:aa
    # via gcsfs
gcsfs==2026.1.0 \\
    --hash=sha256:bb
    # via -r requirements.in
numpy==2.3.0 ; python_full_version >= '3.11' \\
    --hash=sha256:cc
    # via
    #   pandas
    #   shapely
numpy==2.2.0 ; python_full_version < '3.11' \\
    --hash=sha256:dd
    # via pandas
pandas==2.3.3 \\
    --hash=sha256:ee
    # via -r requirements.in
psycopg[binary]==3.3.9 \\
    --hash=sha256:ff
    # via -r requirements.in
psycopg-binary==3.3.9 ; implementation_name != 'pypy' \\
    --hash=sha256:gg
    # via psycopg
shapely==2.1.0 \\
    --hash=sha256:hh
    # via -r requirements.in
"""


def _write(tmp_path: Path, requirements: str, lock: str = LOCK) -> tuple[Path, Path]:
    (tmp_path / "requirements.in").write_text(requirements)
    (tmp_path / "requirements.lock").write_text(lock)
    return tmp_path / "requirements.in", tmp_path / "requirements.lock"


def test_entries_keep_their_lines_markers_and_who_needs_them(tmp_path: Path) -> None:
    _, lock = _write(tmp_path, "pandas\n")
    entries = {(e.name, e.text.split()[0]): e for e in read_lock(lock)}
    numpy = entries[("numpy", "numpy==2.3.0")]
    assert numpy.needed_by == ("pandas", "shapely")
    assert numpy.text == "numpy==2.3.0 ; python_full_version >= '3.11' \\\n    --hash=sha256:cc\n"
    assert entries[("psycopg", "psycopg[binary]==3.3.9")].needed_by == ("-r requirements.in",)


def test_each_package_belongs_to_the_first_requirement_that_needs_it(tmp_path: Path) -> None:
    requirements, lock = _write(tmp_path, "# comment\npandas>=2\nshapely\ngcsfs  # buckets\npsycopg[binary]\n")
    split = layers(requirements, lock)
    assert [(layer.name, layer.packages) for layer in split] == [
        ("pandas", ["numpy", "numpy", "pandas"]),
        ("shapely", ["shapely"]),  # numpy is pandas' already: adding shapely leaves pandas' layer as it was
        ("gcsfs", ["aiohttp", "gcsfs"]),
        ("psycopg", ["psycopg", "psycopg-binary"]),
    ]
    # Every entry is installed exactly once, verbatim.
    assert "".join(layer.lock_text() for layer in split).count("--hash=") == LOCK.count("--hash=")


def test_a_requirement_added_at_the_end_only_adds_a_layer(tmp_path: Path) -> None:
    before = layers(*_write(tmp_path, "pandas\ngcsfs\n"))
    after = layers(*_write(tmp_path, "pandas\ngcsfs\nshapely\n"))
    assert after[:2] == before[:2]
    assert after[2].packages == ["shapely"]


def test_packages_nothing_reaches_get_a_last_layer(tmp_path: Path) -> None:
    split = layers(*_write(tmp_path, "pandas\n"))
    assert split[-1].name == UNREACHED_LAYER
    assert split[-1].packages == ["aiohttp", "gcsfs", "psycopg", "psycopg-binary", "shapely"]


def test_unreadable_lock_and_requirement_are_one_line_errors(tmp_path: Path) -> None:
    requirements, lock = _write(tmp_path, "pandas\n", "pandas==2 \\\n    --hash=sha256:ee\nrandom words here\n")
    with pytest.raises(UserError, match=r"requirements.lock: cannot read the line 'random words here'"):
        read_lock(lock)
    (tmp_path / "requirements.in").write_text("pandas ==== 2\n")
    with pytest.raises(UserError, match=r"'pandas ==== 2' is not a requirement"):
        direct_requirements(requirements)
    lock.write_text("# only a header\n")
    with pytest.raises(UserError, match="pins no package"):
        read_lock(lock)


@pytest.mark.parametrize("name", sorted(n for n, image in discover().items() if image.own_dockerfile is None))
def test_every_image_installs_its_whole_lock_in_layers(name: str) -> None:
    folder = discover()[name].folder
    split = layers(folder / "requirements.in", folder / "requirements.lock")
    assert next(layer.name for layer in split if layer.entries) == direct_requirements(folder / "requirements.in")[0]
    assert UNREACHED_LAYER not in [layer.name for layer in split]
    assert sorted(e.text for layer in split for e in layer.entries) == sorted(
        e.text for e in read_lock(folder / "requirements.lock"))
