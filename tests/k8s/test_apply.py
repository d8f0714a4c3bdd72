"""`k8s.apply`: what counts as already applied, how a Secret is printed, and the plan `ensure` makes."""

from __future__ import annotations

import io
from typing import Any

from automation.core.runner import MASK, Runner
from automation.k8s.apply import contains, describe, ensure, listed, prune, redact
from automation.k8s.cluster import Unreachable
from automation.k8s.objects import ConfigMap, Namespace, Secret, host_path_volume


class Held:
    """Objects as a cluster returned them (a read-only ClusterState): the server's view, not a stand-in client."""

    reachable = True

    def __init__(self, *objects: dict[str, Any]):
        self.objects = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")): o for o in objects}

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objects.get((kind, name, namespace))

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]:
        return [o for (k, _, ns), o in self.objects.items() if k == kind and ns == namespace]


def test_contains() -> None:
    current = {"a": 1, "b": {"c": [1, {"d": 2, "server": True}]}, "status": "x"}
    assert contains(current, {"a": 1})
    assert contains(current, {"b": {"c": [1, {"d": 2}]}})
    assert not contains(current, {"b": {"c": [1]}})  # a list must match in length
    assert not contains(current, {"a": 2})
    assert contains(current, {"missing": None})  # an absent field reads as None
    assert not contains(None, {"a": 1}) and not contains([1], {"a": 1})


def test_redact_masks_secret_values_only() -> None:
    secret = Secret("s", "airflow", {"password": "hunter2-very-secret"}).render()
    shown = redact(secret)
    assert shown["data"] == {"password": MASK} and shown["metadata"] == secret["metadata"]
    assert secret["data"]["password"] != MASK  # the original is untouched
    config = ConfigMap("c", "airflow", {"k": "v"}).render()
    assert redact(config) == config


def test_describe() -> None:
    assert describe(Namespace("airflow").render()) == "Namespace/airflow"
    assert describe(ConfigMap("c", "ns", {}).render()) == "ConfigMap/c -n ns"


def test_ensure_on_an_unreachable_cluster_plans_a_create() -> None:
    out = io.StringIO()
    runner = Runner(dry_run=True, out=out)
    for manifest in (Namespace("airflow").render(), Secret("s", "airflow", {"k": "v"}).render()):
        assert ensure(runner, Unreachable(), manifest) == "created"
        assert ensure(runner, Unreachable(), manifest, create_only=True) == "created"
    assert runner.commands() == ["apply Namespace/airflow (create, server-side)"] * 2 + [
        "apply Secret/s -n airflow (create, server-side)"] * 2
    assert "[dry-run] apply Namespace/airflow (create, server-side)" in out.getvalue()


def test_ensure_against_objects_the_cluster_holds() -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    config = ConfigMap("c", "airflow", {"k": "v"}).render()
    server_view = {**config, "metadata": {**config["metadata"], "uid": "1", "resourceVersion": "7"}}
    assert ensure(runner, Held(server_view), config) == "unchanged"
    changed = ConfigMap("c", "airflow", {"k": "new"}).render()
    assert ensure(runner, Held(server_view), changed) == "updated"
    assert runner.commands() == ["apply ConfigMap/c -n airflow (update, server-side)"]


def test_create_only_never_rewrites_a_present_object() -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    held = Secret("login", "airflow", {"password": "old-generated"}).render()
    regenerated = Secret("login", "airflow", {"password": "new-generated"}).render()
    assert ensure(runner, Held(held), regenerated, create_only=True) == "unchanged"
    assert ensure(runner, Held(held), regenerated) == "updated"
    assert runner.commands() == ["apply Secret/login -n airflow (update, server-side)"]


def test_bound_volumes_compare_by_name_and_labels_only() -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    pv, _ = host_path_volume("airflow-logs", "airflow", "/data/logs", "5Gi").render()
    bound = {**pv, "spec": {"capacity": {"storage": "5Gi"}, "hostPath": {"path": "/elsewhere"}}}
    assert ensure(runner, Held(bound), pv) == "unchanged"
    assert runner.commands() == []


def test_listed_objects_decide_like_single_reads() -> None:
    """One list per kind stands for one read per object: same decisions, no read of its own."""
    runner = Runner(dry_run=True, out=io.StringIO())
    config = ConfigMap("c", "airflow", {"k": "v"}).render()
    item = {k: v for k, v in config.items() if k not in ("kind", "apiVersion")}  # how a list returns it
    held = Held(config)
    held.list = lambda kind, namespace=None, selector=None: [item] if kind == "ConfigMap" else []  # type: ignore
    known = listed(held, "ConfigMap", "airflow")

    class NoReads(Held):
        def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
            raise AssertionError("ensure read an object it was given")

    assert ensure(runner, NoReads(), config, current=known.get("c")) == "unchanged"
    assert ensure(runner, NoReads(), ConfigMap("c", "airflow", {"k": "new"}).render(),
                  current=known.get("c")) == "updated"
    assert ensure(runner, NoReads(), ConfigMap("d", "airflow", {}).render(), current=known.get("d")) == "created"


def test_a_key_removed_from_the_files_is_an_update() -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    held = ConfigMap("c", "airflow", {"kept": "1", "dropped": "2"}).render()
    assert ensure(runner, Held(held), ConfigMap("c", "airflow", {"kept": "1"}).render()) == "updated"
    secret = Secret("s", "airflow", {"kept": "1", "dropped": "2"}).render()
    assert ensure(runner, Held(secret), Secret("s", "airflow", {"kept": "1"}).render()) == "updated"


def test_an_object_this_tool_did_not_make_is_left_alone_with_a_warning() -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    by_hand = ConfigMap("p", "airflow", {"mine": "x"}).render()
    by_hand["metadata"]["labels"] = {}
    assert ensure(runner, Held(by_hand), ConfigMap("p", "airflow", {"k": "v"}).render(), owned_only=True) == "foreign"
    assert runner.commands() == []
    assert "ConfigMap/p -n airflow exists but was not made by this tool: left as it is" in runner.out.getvalue()  # type: ignore[attr-defined]


def test_prune_deletes_only_what_this_tool_made_for_a_dropped_project() -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    label = "airflow-automation/project"
    kept = ConfigMap("kept", "airflow", {}, {label: "kept"}).render()
    dropped = ConfigMap("dropped", "airflow", {}, {label: "dropped"}).render()
    by_hand = ConfigMap("by-hand", "airflow", {}, {label: "dropped"}).render()
    by_hand["metadata"]["labels"] = {label: "dropped"}  # the label, but not made by this tool
    unlabelled = ConfigMap("other", "airflow", {}).render()
    known = {o["metadata"]["name"]: o for o in (kept, dropped, by_hand, unlabelled)}
    assert prune(runner, Held(), known, "ConfigMap", "airflow", label, {"kept"}) == ["dropped"]
    assert runner.commands() == ["delete ConfigMap/dropped -n airflow (airflow-automation/project=dropped is no "
                                 "longer in the settings)"]


def test_a_volume_whose_folder_moved_is_named_with_both_places() -> None:
    from automation.k8s.apply import moved_source

    [wanted, _] = host_path_volume("airflow-dags", "airflow", "/new/dags", "1Gi").render()
    current = {**wanted, "spec": {**wanted["spec"], "hostPath": {"path": "/old/dags", "type": "Directory"}}}
    assert moved_source(current, wanted) == "serves /old/dags, the target wants /new/dags"
    assert moved_source(wanted, wanted) is None and moved_source(None, wanted) is None
    csi = {**wanted, "spec": {"csi": {"driver": "gcsfuse.csi.storage.gke.io", "volumeHandle": "new-bucket"}}}
    old = {**wanted, "spec": {"csi": {"driver": "gcsfuse.csi.storage.gke.io", "volumeHandle": "old-bucket"}}}
    assert moved_source(old, csi) == ("serves gcsfuse.csi.storage.gke.io:old-bucket, the target wants "
                                      "gcsfuse.csi.storage.gke.io:new-bucket")
