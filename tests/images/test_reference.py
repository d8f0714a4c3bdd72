"""Whether a runtime holds an image: both names fully qualified as containerd and the kubelet name them, then
compared exactly (a registry host in front is another image, never the same one)."""

from __future__ import annotations

import pytest

from automation.images.reference import holds, node_image_names, on_every_node, qualified

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("ref", "full"), [
    ("pandas-basic:1a2b", "docker.io/library/pandas-basic:1a2b"),
    ("pandas-basic", "docker.io/library/pandas-basic:latest"),
    ("library/pandas-basic:1a2b", "docker.io/library/pandas-basic:1a2b"),
    ("apache/airflow:3.1.7", "docker.io/apache/airflow:3.1.7"),
    ("index.docker.io/apache/airflow:3.1.7", "docker.io/apache/airflow:3.1.7"),
    ("127.0.0.1:5000/pandas-basic:1a2b", "127.0.0.1:5000/pandas-basic:1a2b"),
    ("127.0.0.1:5000/pandas-basic", "127.0.0.1:5000/pandas-basic:latest"),
    ("localhost/team/pandas-basic", "localhost/team/pandas-basic:latest"),
    ("europe-docker.pkg.dev/p/r/pandas-basic:1a2b", "europe-docker.pkg.dev/p/r/pandas-basic:1a2b"),
    (f"pandas-basic@{DIGEST}", f"docker.io/library/pandas-basic@{DIGEST}"),
    # A tag beside a digest: the runtime resolves the digest alone.
    (f"127.0.0.1:5000/pandas-basic:1a2b@{DIGEST}", f"127.0.0.1:5000/pandas-basic@{DIGEST}"),
])
def test_references_are_qualified_as_the_runtime_names_them(ref: str, full: str) -> None:
    assert qualified(ref) == full
    assert qualified(full) == full


def test_a_short_name_is_held_under_its_docker_io_library_name() -> None:
    assert holds({"docker.io/library/pandas-basic:1a2b"}, "pandas-basic:1a2b")
    assert holds({"pandas-basic:1a2b"}, "docker.io/library/pandas-basic:1a2b")


def test_a_registry_name_does_not_hold_the_short_name() -> None:
    # What a registry delivery leaves on a node: a pod naming pandas-basic:1a2b would still pull docker.io's.
    assert not holds({"127.0.0.1:5000/pandas-basic:1a2b"}, "pandas-basic:1a2b")
    assert not holds({"europe-docker.pkg.dev/p/r/pandas-basic:1a2b"}, "pandas-basic:1a2b")
    assert not holds({"docker.io/library/pandas-basic:1a2b"}, "127.0.0.1:5000/pandas-basic:1a2b")


def test_a_registry_name_holds_itself() -> None:
    assert holds({"127.0.0.1:5000/pandas-basic:1a2b"}, "127.0.0.1:5000/pandas-basic:1a2b")
    assert not holds({"127.0.0.1:5000/pandas-basic:1a2b"}, "127.0.0.1:5001/pandas-basic:1a2b")


def test_a_user_repository_is_on_docker_io_without_library() -> None:
    assert holds({"docker.io/apache/airflow:3.1.7"}, "apache/airflow:3.1.7")
    assert not holds({"docker.io/library/airflow:3.1.7"}, "apache/airflow:3.1.7")
    assert not holds({"quay.io/apache/airflow:3.1.7"}, "apache/airflow:3.1.7")


def test_an_untagged_name_means_latest() -> None:
    assert holds({"docker.io/library/pandas-basic:latest"}, "pandas-basic")
    assert not holds({"docker.io/library/pandas-basic:1a2b"}, "pandas-basic")
    assert not holds({"docker.io/library/pandas-basic:latest"}, "pandas-basic:1a2b")


def test_digests_are_compared_as_digests() -> None:
    by_digest = {f"docker.io/library/pandas-basic@{DIGEST}"}
    assert holds(by_digest, f"pandas-basic@{DIGEST}")
    assert holds(by_digest, f"pandas-basic:1a2b@{DIGEST}")
    assert not holds(by_digest, f"pandas-basic@sha256:{'cd' * 32}")
    assert not holds(by_digest, "pandas-basic:1a2b")
    assert not holds(by_digest, f"127.0.0.1:5000/pandas-basic@{DIGEST}")


def test_image_ids_among_the_names_are_harmless() -> None:
    # `ctr images ls -q` in k8s.io lists the CRI's alias by image id beside the names.
    names = {DIGEST, "docker.io/library/pandas-basic:1a2b"}
    assert holds(names, "pandas-basic:1a2b")
    assert not holds(names, "notebook:1a2b")


def test_every_node_must_hold_the_image() -> None:
    nodes = [{"status": {"images": [{"names": ["docker.io/library/pandas-basic:1a2b"]}]}},
             {"status": {"images": [{"names": ["127.0.0.1:5000/pandas-basic:1a2b"]}, {"names": None}]}},
             {"metadata": {"name": "new"}}]
    names = node_image_names(nodes)
    assert names == [{"docker.io/library/pandas-basic:1a2b"}, {"127.0.0.1:5000/pandas-basic:1a2b"}, set()]
    assert on_every_node(names[:1], "pandas-basic:1a2b")
    assert not on_every_node(names[:2], "pandas-basic:1a2b")
    assert not on_every_node([], "pandas-basic:1a2b")
