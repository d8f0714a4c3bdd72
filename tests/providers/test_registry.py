"""`providers`: every provider a target may name has a class, and `provider_for` picks it and composes it from its
parts (a cluster this machine reaches, or none on Composer; Helm's deployer on that cluster, or Composer's); only
Minikube stops its cluster on `down`, only Composer's task pods follow extra rules, only the rehearsal builds an
image for itself."""

from __future__ import annotations

import typing
from collections.abc import Callable

import pytest

from automation.providers import PROVIDERS, Provider
from automation.providers.base import LocalClusterProvider
from automation.providers.cluster import Cluster
from automation.providers.composer import ComposerDeployer
from automation.providers.deployer import HelmDeployer
from automation.settings import load
from automation.settings.model import Target


def test_every_provider_value_has_a_class() -> None:
    allowed = typing.get_args(typing.get_type_hints(Target)["provider"])
    assert allowed and set(PROVIDERS) == set(allowed)
    for kind, cls in PROVIDERS.items():
        assert cls.kind == kind and issubclass(cls, Provider)


@pytest.mark.parametrize("name", ["local", "existing", "gke", "composer", "composer-rehearsal"])
def test_provider_for_picks_the_class_of_the_target(build: Callable[..., Provider], name: str) -> None:
    provider = build(name)
    assert type(provider) is PROVIDERS[provider.target.provider]
    assert provider.target.name == name
    assert name in load().names


def flagged(flag: str) -> set[str]:
    return {kind for kind, cls in PROVIDERS.items() if getattr(cls, flag)}


def overriding(method: str) -> set[str]:
    return {kind for kind, cls in PROVIDERS.items() if getattr(cls, method) is not getattr(Provider, method)}


def test_class_flags() -> None:
    assert overriding("pod_rules") == {"composer", "composer-rehearsal"}
    # Minikube's own cluster: `down` stops it, `up` starts it (and its mounts), the settings size it.
    assert overriding("down") == overriding("unreachable_fix") == overriding("remount_fix") == \
        overriding("node_size") == {"minikube"}


@pytest.mark.parametrize("name", ["local", "existing", "gke", "composer", "composer-rehearsal"])
def test_only_local_clusters_mount_this_machines_folders(build: Callable[..., Provider], name: str) -> None:
    mounts = build(name).host_mounts()
    assert (mounts is not None) == (name in ("local", "existing"))
    if mounts is not None:
        assert mounts == build(name).target.mounts
    # The rehearsal's Airflow sits on the existing-cluster provider's volumes; its task pods do not.
    assert {k for k, cls in PROVIDERS.items() if issubclass(cls, LocalClusterProvider)} == \
        {"minikube", "existing", "composer-rehearsal"}
    assert flagged("tool_images") == {"composer-rehearsal"}


@pytest.mark.parametrize("name", ["local", "existing", "gke", "composer", "composer-rehearsal"])
def test_composed_of_a_cluster_and_a_deployer(build: Callable[..., Provider], name: str) -> None:
    provider = build(name)
    if name == "composer":
        assert provider.cluster is None and isinstance(provider.deployer, ComposerDeployer)
    else:
        assert isinstance(provider.cluster, Cluster) and isinstance(provider.deployer, HelmDeployer)
        assert provider.deployer.cluster is provider.cluster
        assert provider.cluster.context == provider.context()


@pytest.mark.parametrize("name", ["local", "existing", "gke", "composer", "composer-rehearsal"])
def test_airflow_is_reached_through_a_port_forward_except_on_composer(build: Callable[..., Provider],
                                                                     name: str) -> None:
    forward = build(name).deployer.ui_forward
    assert (forward is None) == (name == "composer")


def test_binaries_each_provider_needs() -> None:
    assert PROVIDERS["minikube"].binaries == ("minikube", "kubectl", "helm", "docker")
    assert PROVIDERS["existing"].binaries == ("kubectl", "helm")
    assert "gcloud" in PROVIDERS["gke"].binaries and "helm" in PROVIDERS["gke"].binaries
    assert PROVIDERS["composer"].binaries == ("gcloud",)
