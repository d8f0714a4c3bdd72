"""Any existing kube context (kind, k3d, Docker Desktop, a shared cluster): its node paths already show this
repository's folders; node folders are made by a short root pod."""

from __future__ import annotations

import time

from automation.core.errors import UserError
from automation.k8s.cluster import ClusterState, LiveCluster, wait_for_pod
from automation.k8s.objects import ConfigMap, NodeFolderJob
from automation.providers.base import LocalClusterProvider


class ExistingProvider(LocalClusterProvider):
    """Any kube context (kind, k3d, Docker Desktop, a shared cluster): mounts are node paths that exist."""

    kind = "existing"
    binaries = ("kubectl", "helm")

    def kubeconfig(self) -> str | None:
        existing = self.target.existing
        return str(self.target.path(existing.kubeconfig)) if existing and existing.kubeconfig else None

    def context(self) -> str | None:
        return self.target.existing.context if self.target.existing else None

    def ensure_node_folders(self, state: ClusterState) -> None:
        """Node folders are made by a short root pod; a marker ConfigMap remembers it was done for these
        folders, so a re-run does not start a pod (it goes with the namespace on --purge)."""
        folders = self.node_folders()
        marker = f"{self.target.release}-node-folders"
        done = state.get("ConfigMap", marker, self.target.namespace)
        if done and done.get("data", {}).get("folders") == "\n".join(folders):
            self.runner.ok(f"node folders owned by 50000: {', '.join(folders)}")
            return
        job = NodeFolderJob(marker, self.target.namespace, self.airflow_image(), tuple(folders))
        self.runner.plan(f"run Pod/{job.name} as root: install -d -o 50000 {' '.join(folders)}")
        if not isinstance(state, LiveCluster) or self.runner.dry_run:
            return
        state.delete("Pod", job.name, self.target.namespace)
        while state.get("Pod", job.name, self.target.namespace):
            time.sleep(0.5)
        state.apply(job.render())
        phase, stuck = wait_for_pod(state, job.name, self.target.namespace, timeout=120)
        if phase != "Succeeded":
            why = stuck or state.pod_log(job.name, self.target.namespace).strip()[-200:] or "no log"
            raise UserError(f"preparing node folders failed (pod {phase}): {why}", node_folders_fix(stuck,
                            self.airflow_image(), self.target.namespace))
        state.delete("Pod", job.name, self.target.namespace)
        state.apply(ConfigMap(marker, self.target.namespace, {"folders": "\n".join(folders)}).render())
        self.runner.ok(f"node folders owned by 50000: {', '.join(folders)}")


def node_folders_fix(stuck: str, image: str, namespace: str) -> str:
    """What to do about the node-folders pod, by what kept it from running."""
    if stuck.startswith("not scheduled"):
        return (f"free the node (`kubectl get pods -A` shows what holds it; another target's Airflow can be "
                f"stopped with `nox -s down -- --target NAME`), then run `up` again (namespace {namespace})")
    return f"check that {image} is available to the cluster (docs/how-to/air-gapped.md)"
