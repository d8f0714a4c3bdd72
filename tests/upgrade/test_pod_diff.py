"""A task pod's changes between two releases, field by field; what differs on every build is not a change."""

from __future__ import annotations

from automation.upgrade.pod_diff import diff


def pod(**spec: object) -> dict[str, object]:
    base = {"metadata": {"name": "example1-extract-a8h7rv5b", "labels": {"airflow_version": "3.2.0", "dag_id": "e"}},
            "spec": {"containers": [{"name": "base", "image": "w:1", "env": [{"name": "A", "value": "1"}]}],
                     "volumes": [{"name": "dags", "persistentVolumeClaim": {"claimName": "airflow-dags"}}]}}
    base["spec"].update(spec)  # type: ignore[union-attr]
    return base


def test_the_same_pod_built_twice_has_no_changes() -> None:
    again = pod()
    again["metadata"] = {"name": "example1-extract-2ok1slw3", "labels": {"airflow_version": "3.3.2", "dag_id": "e"}}
    assert diff(pod(), again) == []


def test_added_removed_and_changed_fields_each_one_line_named_by_path() -> None:
    new = pod(containers=[{"name": "base", "image": "w:1", "imagePullPolicy": "IfNotPresent",
                           "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "x"}]}],
              volumes=[], terminationGracePeriodSeconds=30)
    assert diff(pod(), new) == [
        "~ spec.containers[base].env[A].value: \"1\" -> \"2\"",
        "+ spec.containers[base].env[B]: {\"name\": \"B\", \"value\": \"x\"}",
        "+ spec.containers[base].imagePullPolicy: \"IfNotPresent\"",
        "+ spec.terminationGracePeriodSeconds: 30",
        "~ spec.volumes: [{\"name\": \"dags\", \"persistentVolumeClaim\": {\"claimName\": \"airflow-dags\"}}] -> []",
    ]
    assert diff(new, pod())[1] == "- spec.containers[base].env[B]: {\"name\": \"B\", \"value\": \"x\"}"
