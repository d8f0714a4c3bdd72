"""registry: tag and push to `images.registry`; the nodes pull. A registry that does not answer hands the image to
the target's fallback copy (`images.fallback`) under the name pods use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images.registry_api import is_cloud, manifest_exists, push_counts, registry_answers
from automation.settings.model import Target

if TYPE_CHECKING:
    from automation.images.delivery import ImageLoader


class RegistryLoad:
    def __init__(self, runner: Runner, target: Target, fallback: ImageLoader | None):
        self.runner, self.target, self.fallback = runner, target, fallback
        self._login_done = False

    def ref_in_cluster(self, ref: str) -> str:
        registry = self.target.images.cluster_registry()
        if not registry:
            raise UserError(f"target {self.target.name!r} loads images to a registry but names none",
                            f"set targets.{self.target.name}.images.registry, "
                            "for example REGION-docker.pkg.dev/PROJECT/REPO")
        return f"{registry}/{ref}"

    def load(self, ref: str) -> None:
        # Tag, push and the manifest check stay on the CLI: the push authenticates through the credential
        # helpers `gcloud auth configure-docker` writes for the docker CLI, streams its own progress, and sends
        # only the layers the registry lacks (the nodes then pull only the layers they lack).
        remote = self.ref_in_cluster(ref)
        # Where this machine pushes: images.registry, which may differ from the name pods pull.
        registry = self.target.images.push_registry()
        push = f"{registry}/{ref}" if registry else remote
        host = push.split("/", 1)[0]
        cloud = is_cloud(host)
        if cloud and not self._login_done:
            self.runner.run(["gcloud", "auth", "configure-docker", host, "--quiet"],
                            fix="install the gcloud CLI and run `gcloud auth login`")
            self._login_done = True
        if not cloud and not self.runner.dry_run and not registry_answers(host):
            self._fall_back(ref, remote, host)
            return
        if not self.runner.dry_run and self._in_registry(push, cloud):
            self.runner.ok(f"{push}: already in the registry")
            return
        self.runner.run(["docker", "tag", ref, push])
        result = self.runner.run(["docker", "push", push], timeout=3600, heartbeat=30,
                                 fix="check the registry exists and that you may push to it")
        if not self.runner.dry_run:
            pushed, present = push_counts(result.stdout)
            self.runner.ok(f"{push}: {pushed} layer(s) pushed, {present} already in the registry")

    def _in_registry(self, push: str, cloud: bool) -> bool:
        if cloud:
            return self.runner.try_read(["docker", "manifest", "inspect", push], timeout=60) is not None
        return manifest_exists(push)

    def _fall_back(self, ref: str, remote: str, host: str) -> None:
        if self.fallback is None:
            raise UserError(f"the image registry {host} does not answer",
                            f"start it (Minikube: minikube addons enable registry), or set "
                            f"targets.{self.target.name}.images.fallback to copy whole images instead")
        self.runner.say(f"    warning: the image registry {host} does not answer: copying the whole image "
                        f"instead (images.fallback: {self.target.images.fallback})")
        if remote != ref:
            self.runner.run(["docker", "tag", ref, remote])
        self.fallback.load(remote)
