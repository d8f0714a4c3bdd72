"""The wheel cache of the worker images: the best-fitting wheel per lock entry, markers evaluated for the base
image's Python, downloads checked against the lock's hashes (real pip, real index)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images.base_python import BasePython
from automation.images.lock import LockEntry
from automation.images.wheelhouse import Wheelhouse, applies, wheels_for

PY312 = BasePython("3.12", "x86_64", "glibc", "2.36", "lib/python3.12/site-packages")
SIX = LockEntry("six", "six==1.17.0 \\\n"
                "    --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274 \\\n"
                "    --hash=sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81\n", ())


def _keep(house: Wheelhouse, digest: str, name: str) -> None:
    house.root.mkdir(parents=True, exist_ok=True)
    (house.root / name).write_bytes(b"wheel")
    index = json.loads((house.root / "index.json").read_text()) if (house.root / "index.json").is_file() else {}
    index[digest] = name
    (house.root / "index.json").write_text(json.dumps(index))


def test_platforms_run_from_the_base_glibc_down_best_first() -> None:
    assert PY312.platforms[:2] == ["manylinux_2_36_x86_64", "manylinux_2_35_x86_64"]
    assert {"manylinux2014_x86_64", "manylinux1_x86_64", "linux_x86_64"} <= set(PY312.platforms)
    assert "manylinux_2_37_x86_64" not in PY312.platforms
    musl = BasePython("3.12", "x86_64", "", "", "lib/python3.12/site-packages")
    with pytest.raises(UserError, match="not glibc"):
        _ = musl.platforms


def test_markers_are_evaluated_for_the_base_python() -> None:
    old = LockEntry("numpy", "numpy==2.2.0 ; python_full_version < '3.11' \\\n    --hash=sha256:aa\n", ())
    new = LockEntry("numpy", "numpy==2.3.0 ; python_full_version >= '3.11' \\\n    --hash=sha256:bb\n", ())
    assert (applies(old, PY312), applies(new, PY312)) == (False, True)


def test_select_takes_the_most_specific_fitting_wheel(tmp_path: Path) -> None:
    house = Wheelhouse(tmp_path)
    entry = LockEntry("numpy", "numpy==2.3.0 \\\n    --hash=sha256:a1 \\\n    --hash=sha256:a2 \\\n"
                               "    --hash=sha256:a3 \\\n    --hash=sha256:a4\n", ())
    _keep(house, "a1", "numpy-2.3.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")  # other Python
    _keep(house, "a2", "numpy-2.3.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    _keep(house, "a3", "numpy-2.3.0-cp312-cp312-manylinux_2_28_x86_64.whl")
    _keep(house, "a4", "numpy-2.3.0-cp312-cp312-manylinux_2_39_x86_64.whl")  # newer glibc than the base's
    chosen, missing = house.select([entry], PY312)
    assert missing == []
    assert chosen["numpy"].name == "numpy-2.3.0-cp312-cp312-manylinux_2_28_x86_64.whl"
    # A wheel kept for another Python only: missing for this one.
    (tmp_path / "numpy-2.3.0-cp312-cp312-manylinux_2_28_x86_64.whl").unlink()
    (tmp_path / "numpy-2.3.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unlink()
    assert house.select([entry], PY312) == ({}, [entry])


def test_fetch_keeps_a_checked_wheel_then_reuses_it(tmp_path: Path) -> None:
    house = Wheelhouse(tmp_path / "wheels")
    runner = Runner(out=io.StringIO())
    chosen, fetched = wheels_for(runner, [SIX], PY312, house=house)
    assert fetched == 1
    assert chosen["six"].name == "six-1.17.0-py2.py3-none-any.whl"
    assert chosen["six"].is_file()
    before = len(runner.history)
    again, fetched_again = wheels_for(runner, [SIX], PY312, house=house)
    assert (again, fetched_again) == (chosen, 0)
    assert len(runner.history) == before  # no pip ran


def test_a_hash_that_does_not_match_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    tampered = LockEntry("six", "six==1.17.0 \\\n    --hash=sha256:" + "0" * 64 + "\n", ())
    house = Wheelhouse(tmp_path / "wheels")
    with pytest.raises(UserError) as err:
        wheels_for(Runner(out=io.StringIO()), [tampered], PY312, house=house)
    assert "pip download" in err.value.problem and "\n" not in err.value.problem
    assert not list(house.root.glob("*.whl"))
