"""`k8s.objects`: each object renders the manifest the cluster needs (volumes bound to their one claim, Secret
data base64, ConfigMap data sorted, the node-folder pod's script)."""

from __future__ import annotations

import base64

import kubernetes_validate
import pytest

from automation.core.versions import VERSIONS
from automation.k8s.objects import (
    MANAGED_BY,
    STORAGE_CLASS,
    ConfigMap,
    Namespace,
    NodeFolderJob,
    Secret,
    StaticVolume,
    host_path_volume,
)

SCHEMA = ".".join(VERSIONS.kubernetes.lstrip("v").split(".")[:2]) + ".0"


def valid(manifest: dict) -> dict:
    kubernetes_validate.validate(manifest, SCHEMA, strict=True)
    return manifest


def test_host_path_volume_is_a_pv_bound_to_its_one_claim() -> None:
    pv, pvc = host_path_volume("airflow-logs", "airflow", "/data/airflow-logs", "5Gi").render()
    valid(pv)
    valid(pvc)
    assert (pv["kind"], pvc["kind"]) == ("PersistentVolume", "PersistentVolumeClaim")
    assert pv["metadata"]["name"] == "airflow-airflow-logs" and "namespace" not in pv["metadata"]
    assert pv["spec"]["claimRef"] == {"namespace": "airflow", "name": "airflow-logs"}
    assert pvc["metadata"] == {"name": "airflow-logs", "namespace": "airflow",
                               "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}}
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["storageClassName"] == pvc["spec"]["storageClassName"] == STORAGE_CLASS
    assert pv["spec"]["hostPath"] == {"path": "/data/airflow-logs", "type": "DirectoryOrCreate"}
    assert pv["spec"]["capacity"] == {"storage": "5Gi"} and pvc["spec"]["resources"]["requests"] == {"storage": "5Gi"}
    assert pv["spec"]["accessModes"] == pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert "mountOptions" not in pv["spec"]


def test_the_namespace_keeps_two_environments_apart() -> None:
    a = host_path_volume("airflow-dags", "dev", "/mnt/dags", "1Gi", "ReadOnlyMany", "Directory")
    b = host_path_volume("airflow-dags", "prod", "/mnt/dags", "1Gi", "ReadOnlyMany", "Directory")
    assert a.pv_name != b.pv_name
    pv, pvc = a.render()
    assert pv["spec"]["hostPath"]["type"] == "Directory" and pvc["spec"]["accessModes"] == ["ReadOnlyMany"]


def test_static_volume_with_a_csi_source_and_mount_options() -> None:
    volume = StaticVolume("airflow-data", "airflow", "10Gi", {"csi": {"driver": "d", "volumeHandle": "bucket"}},
                          storage_class="other", mount_options=("implicit-dirs", "uid=50000"))
    pv, pvc = volume.render()
    valid(pv)
    assert pv["spec"]["csi"] == {"driver": "d", "volumeHandle": "bucket"} and "hostPath" not in pv["spec"]
    assert pv["spec"]["mountOptions"] == ["implicit-dirs", "uid=50000"]
    assert pv["spec"]["storageClassName"] == pvc["spec"]["storageClassName"] == "other"


def test_namespace_and_secret() -> None:
    assert valid(Namespace("airflow").render())["metadata"]["name"] == "airflow"
    secret = valid(Secret("s", "airflow", {"b": "two words", "a": "ünï"}, {"project": "p"}).render())
    assert list(secret["data"]) == ["a", "b"]
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {"a": "ünï", "b": "two words"}
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": MANAGED_BY, "project": "p"}


def test_config_map_data_is_sorted_and_plain() -> None:
    cm = valid(ConfigMap("c", "airflow", {"Z": "1", "A": "2", "M": "3"}).render())
    assert list(cm["data"]) == ["A", "M", "Z"] and cm["data"]["A"] == "2"


@pytest.mark.parametrize(("folders", "parents"), [
    (("/data/airflow-logs", "/mnt/airflow/data/example1"), ["/data", "/mnt/airflow/data"]),
    (("/top/",), ["/"]),
    # Many projects' data folders share their parent: one volume for all of them.
    (("/logs/x", "/mnt/data/p1", "/mnt/data/p2", "/mnt/data/p3"), ["/logs", "/mnt/data"]),
])
def test_node_folder_job_makes_each_folder_owned_by_airflow(folders: tuple[str, ...], parents: list[str]) -> None:
    pod = valid(NodeFolderJob("nf", "airflow", "apache/airflow:3.2.0", folders).render())
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert [v["hostPath"]["path"] for v in spec["volumes"]] == parents
    (container,) = spec["containers"]
    assert container["image"] == "apache/airflow:3.2.0" and container["command"][:2] == ["/bin/sh", "-ec"]
    script = container["command"][2]
    for path in folders:
        parent, leaf = path.rstrip("/").rsplit("/", 1)
        i = parents.index(parent or "/")
        assert f"install -d -o 50000 -g 0 -m 0775 /node/f{i}/{leaf}" in script
        assert f"chown 50000:0 /node/f{i}/{leaf}" in script
        assert {"name": f"f{i}", "mountPath": f"/node/f{i}"} in container["volumeMounts"]
    assert len(container["volumeMounts"]) == len(parents)


def test_gcs_emulator_deployment_and_service_agree_on_port_and_labels() -> None:
    from automation.k8s.objects import GcsEmulator

    emulator = GcsEmulator("gcs-emulator", "airflow", "gcs-emulator:0123", 9023)
    deployment, service = (valid(m) for m in emulator.render())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:3] == ["gcp-storage-emulator", "--data-dir", "/storage"]
    assert container["ports"][0]["containerPort"] == service["spec"]["ports"][0]["targetPort"] == 9023
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"] \
        == deployment["spec"]["template"]["metadata"]["labels"]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert emulator.endpoint == "http://gcs-emulator.airflow.svc.cluster.local:9023"


def test_pod_launcher_role_binds_an_account_of_another_namespace() -> None:
    from automation.k8s.objects import PodLauncherRole

    role, binding = (valid(m) for m in PodLauncherRole("tasks", "composer-user-workloads", "airflow-worker",
                                                        "airflow").render())
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "composer-user-workloads"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "airflow"}]
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"pods", "pods/log", "pods/exec", "events"} <= resources
