"""The Kubernetes cluster a target's Airflow runs on, when this machine reaches it through the API (every target
but Cloud Composer, whose cluster Google runs): which kubeconfig and context, its state, and Helm on it.

`providers.provider_for` gives a provider its `Cluster`, or None; a command that needs the cluster asks
`provider.cluster` instead of testing what kind of target it has.
"""

from __future__ import annotations

from collections.abc import Callable

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.k8s.cluster import LiveCluster, Unreachable, connect
from automation.k8s.helm import Helm
from automation.settings.model import Target


class Cluster:
    def __init__(self, runner: Runner, target: Target, kubeconfig: str | None, context: str | None,
                 fetch_credentials: Callable[[], None] | None = None):
        self.runner = runner
        self.target = target
        self.kubeconfig = kubeconfig
        self.context = context
        self._live: LiveCluster | None = None
        # Writes the context into the kubeconfig (gcloud's get-credentials): tried once, when the cluster does not
        # answer.
        self._fetch_credentials = fetch_credentials

    def state(self) -> LiveCluster | Unreachable:
        # Connecting runs the API discovery (about a second): once per command is enough. A cluster that did
        # not answer is asked again (it may just have been started).
        if self._live is not None:
            return self._live
        found = connect(self.kubeconfig, self.context)
        if not isinstance(found, LiveCluster) and self._fetch_credentials is not None and not self.runner.dry_run:
            fetch, self._fetch_credentials = self._fetch_credentials, None
            try:
                fetch()
            except UserError as error:  # read as unreachable, why included: `render` works without a cluster
                return Unreachable(f"{found.why}; and {error.problem}")
            found = connect(self.kubeconfig, self.context)
        if isinstance(found, LiveCluster):
            self._live = found
        return found

    def kube_args(self) -> list[str]:
        """Helm's flags naming this cluster."""
        args = []
        if self.kubeconfig:
            args += ["--kubeconfig", self.kubeconfig]
        if self.context:
            args += ["--kube-context", self.context]
        return args

    def kubectl_args(self) -> list[str]:
        return [a.replace("--kube-context", "--context") for a in self.kube_args()]

    def kubectl(self, namespace: str) -> list[str]:
        """The command line that starts a kubectl for this cluster, in `namespace`."""
        return ["kubectl", *self.kubectl_args(), "-n", namespace]

    def helm(self) -> Helm:
        state = self.state()
        return Helm(self.runner, self.target, self.kube_args(), state if isinstance(state, LiveCluster) else None)
