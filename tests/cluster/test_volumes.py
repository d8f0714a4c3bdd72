"""The product's static volumes on the real cluster: one left Released by a claim deleted outside
`down --purge` (a namespace deleted by hand) is reclaimed by `up`'s volumes step and binds again, data kept;
one that is not ours is left alone."""

from __future__ import annotations

import io
import time
import uuid
from typing import Any

import pytest

from automation.core.runner import Runner
from automation.k8s.apply import ensure, reclaim_released
from automation.k8s.objects import MANAGED_LABEL, host_path_volume
from tests.cluster.support import cluster_target

pytestmark = pytest.mark.cluster


def _phase(state: Any, kind: str, name: str, namespace: str | None = None) -> str:
    return str(((state.get(kind, name, namespace) or {}).get("status") or {}).get("phase", ""))


def _wait_phase(state: Any, kind: str, name: str, want: str, namespace: str | None = None) -> str:
    deadline = time.monotonic() + 60
    while _phase(state, kind, name, namespace) != want and time.monotonic() < deadline:
        time.sleep(0.5)
    return _phase(state, kind, name, namespace)


@pytest.fixture
def released(k8s_cluster: Any, tmp_path: Any) -> Any:
    """A volume of ours, bound, whose namespace was then deleted by hand: its PV is Released."""
    _, state = cluster_target()
    namespace = f"reclaim-{uuid.uuid4().hex[:6]}"
    volume = host_path_volume("data", namespace, str(tmp_path), "1Gi")
    state.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    pv, pvc = volume.render()
    for manifest in (pv, pvc):
        state.apply(manifest)
    assert _wait_phase(state, "PersistentVolumeClaim", "data", "Bound", namespace) == "Bound"
    state.delete("PersistentVolumeClaim", "data", namespace)
    assert _wait_phase(state, "PersistentVolume", volume.pv_name, "Released") == "Released"
    yield state, volume, pv, pvc
    state.delete("Namespace", namespace)
    state.delete("PersistentVolume", volume.pv_name)


def test_released_volume_of_ours_is_reclaimed_and_binds_to_the_new_claim(released: Any) -> None:
    state, volume, pv, pvc = released
    out = io.StringIO()
    runner = Runner(out=out)
    assert reclaim_released(runner, state, pv) is True
    assert "reclaimed for the new one" in out.getvalue()
    ensure(runner, state, pv)
    ensure(runner, state, pvc)
    assert _wait_phase(state, "PersistentVolumeClaim", "data", "Bound", volume.namespace) == "Bound"
    bound = state.get("PersistentVolume", volume.pv_name)
    assert bound["spec"]["claimRef"]["uid"] == state.get("PersistentVolumeClaim", "data", volume.namespace)[
        "metadata"]["uid"]
    # Bound again: a second `up` has nothing to reclaim.
    assert reclaim_released(Runner(out=io.StringIO()), state, pv) is False


def test_dry_run_plans_the_reclaim_and_changes_nothing(released: Any) -> None:
    state, volume, pv, _ = released
    out = io.StringIO()
    assert reclaim_released(Runner(out=out, dry_run=True), state, pv) is True
    assert f"patch PersistentVolume/{volume.pv_name}" in out.getvalue()
    assert _phase(state, "PersistentVolume", volume.pv_name) == "Released"


def test_released_volume_not_ours_is_left_alone(released: Any) -> None:
    state, volume, pv, _ = released
    state.merge_patch("PersistentVolume", volume.pv_name,
                      {"metadata": {"labels": {MANAGED_LABEL: None}}})
    assert reclaim_released(Runner(out=io.StringIO()), state, pv) is False
    assert _phase(state, "PersistentVolume", volume.pv_name) == "Released"
