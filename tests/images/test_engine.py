"""The Docker engine through its API: image presence, and one clear line when there is no engine."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images import engine
from automation.images.build import exists_locally
from tests.conftest import BASE, docker_available, need


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    address = f"unix://{tmp_path / 'docker.sock'}"
    monkeypatch.setenv("DOCKER_HOST", address)
    engine._connect.cache_clear()
    yield address
    engine._connect.cache_clear()


def test_unreachable_engine_is_one_line_with_the_fix(no_engine: str) -> None:
    with pytest.raises(UserError) as caught:
        exists_locally(Runner(out=io.StringIO()), "pandas-basic:0123456789abcdef")
    line = caught.value.line()
    assert "\n" not in line
    assert caught.value.problem == f"the Docker engine at {no_engine} is not reachable: no engine listens there"
    assert (caught.value.fix or "").startswith("start Docker")


def test_dry_run_without_engine_plans_as_if_no_image(no_engine: str) -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    assert not exists_locally(runner, "a:1")
    assert not exists_locally(runner, "b:1")
    warnings = [line for line in runner.out.getvalue().splitlines() if "warning:" in line]  # type: ignore[attr-defined]
    assert len(warnings) == 1 and "planning as if no image were present" in warnings[0]


@pytest.mark.docker
def test_image_presence_through_the_api(base_image: str) -> None:
    need(docker_available(), "a running Docker engine")
    runner = Runner(out=io.StringIO())
    assert exists_locally(runner, base_image)
    assert engine.inspect_image(runner, BASE) is not None
    assert not exists_locally(runner, "automation-absent/never-built:0000000000000000")
    assert not exists_locally(runner, "Invalid Reference!")  # refused by the engine: no such image
