"""The cluster the cluster tests run on, attached through pytest-kubernetes' external-cluster provider: it
waits until the API server is ready (readyz, default ServiceAccount) and never deletes a cluster it did not
create. With CI=true a missing cluster fails these tests instead of skipping them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.support import TARGET, cluster_target
from tests.conftest import need


@pytest.fixture(scope="session")
def k8s_cluster(k8s_manager: Any) -> Any:
    target, _ = cluster_target()
    existing = target.existing
    need(existing is not None and existing.kubeconfig is not None,
         f"target {TARGET} names its kubeconfig (existing.kubeconfig)")
    assert existing is not None and existing.kubeconfig is not None
    manager = k8s_manager("external")(None, None, target.path(existing.kubeconfig))
    manager.create(timeout=60)  # a ready cluster is attached as it is
    need(manager.ready(timeout=30), f"the cluster of target {TARGET} ready (readyz, default ServiceAccount)")
    return manager


@pytest.fixture(scope="module", autouse=True)
def committed_image_tags() -> Any:
    """`images` writes the tags it built (on CI's base image) into dags/common/images.json: each module gets the
    file as it found it back, so a later test (tests/images: the committed tags match the default base) reads
    what git holds."""
    from tests.conftest import REPO

    tags = REPO / "dags" / "common" / "images.json"
    before = tags.read_text()
    yield
    tags.write_text(before)
