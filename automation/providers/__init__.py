"""Where a target's Airflow runs. `provider_for` is the one place a target's provider is chosen."""

from __future__ import annotations

from automation.core.runner import Runner
from automation.providers.base import Provider
from automation.providers.composer import ComposerProvider
from automation.providers.existing import ExistingProvider
from automation.providers.gke import GkeProvider
from automation.providers.minikube import MinikubeProvider
from automation.providers.rehearsal import ComposerRehearsalProvider
from automation.settings.model import Target

PROVIDERS: dict[str, type[Provider]] = {
    cls.kind: cls for cls in (MinikubeProvider, ExistingProvider, GkeProvider, ComposerProvider,
                              ComposerRehearsalProvider)
}


def provider_for(runner: Runner, target: Target) -> Provider:
    return PROVIDERS[target.provider](runner, target)


__all__ = ["PROVIDERS", "Provider", "provider_for"]
