"""Where a target's Airflow runs. `provider_for` is the one place a target's provider is chosen and composed from
its parts: the cluster this machine reaches (none on Cloud Composer, whose cluster Google runs), the deployer
(Helm's chart on that cluster, or Composer's environment) and the cloud side `up` converges first (GKE's buckets
and identities)."""

from __future__ import annotations

from automation.core.runner import Runner
from automation.providers.base import Provider
from automation.providers.cluster import Cluster
from automation.providers.composer import ComposerDeployer, ComposerProvider
from automation.providers.deployer import HelmDeployer
from automation.providers.existing import ExistingProvider
from automation.providers.gke import GkeProvider
from automation.providers.gke_cloud import GkeCloud
from automation.providers.minikube import MinikubeProvider
from automation.providers.rehearsal import ComposerRehearsalProvider
from automation.settings.model import Target

PROVIDERS: dict[str, type[Provider]] = {
    cls.kind: cls for cls in (MinikubeProvider, ExistingProvider, GkeProvider, ComposerProvider,
                              ComposerRehearsalProvider)
}


def provider_for(runner: Runner, target: Target) -> Provider:
    provider = PROVIDERS[target.provider](runner, target)
    if isinstance(provider, ComposerProvider):
        provider.cluster = None
        provider.deployer = ComposerDeployer(provider)
    else:
        # GKE's credentials come from gcloud: fetched when the cluster does not answer (a machine that never ran
        # `up`, or an endpoint that moved), so every command reaches it as `up` does.
        credentials = provider.ensure_cluster if isinstance(provider, GkeProvider) else None
        provider.cluster = cluster = Cluster(runner, target, provider.kubeconfig(), provider.context(), credentials)
        provider.deployer = HelmDeployer(provider, cluster)
    if isinstance(provider, GkeProvider):
        provider.cloud = GkeCloud(runner, target, provider.extra_objects)
    return provider


__all__ = ["PROVIDERS", "Provider", "provider_for"]
