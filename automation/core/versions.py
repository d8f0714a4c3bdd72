"""Every pinned version, in one place. Everything else (targets, Helm values, tests, CI, images) reads these.

`python -m automation versions` prints them as JSON for shell scripts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Versions:
    # The Helm chart and the Airflow it deploys. 1.21.0 is the newest chart release we hold a verified copy
    # of. Its default Airflow is 3.2.0; we pin 3.3.2, the newest Airflow 3 release, for the chart, the DAG tests
    # and the worker images alike (the whole cluster suite runs it on this chart; pyproject's `airflow` extra
    # pins the same, and its `exclude-newer` is 3.3.2's upload time plus a day).
    chart: str = "1.21.0"
    airflow: str = "3.3.2"
    # The pin before `airflow`: the upgrade cluster test makes an environment with history at it and moves it
    # to `airflow`, and CI builds its image for that. Set it to the old pin whenever `airflow` moves.
    airflow_previous: str = "3.2.0"
    # The Python of the nox sessions.
    python: str = "3.11"
    # The worker images' default base, by digest so that a rebuild months later starts from the same bytes
    # (a changed digest changes every content tag). The digest of python:3.12.7-slim-bookworm's manifest list as
    # published on Docker Hub; targets override it with images.base_image.
    worker_base_image: str = (
        "python:3.12.7-slim-bookworm@sha256:032c52613401895aa3d418a4c563d2d05f993bc3ecc065c8f4e2280978acd249")
    # uv installs the worker images' packages: the binary of this PyPI release (a dependency of this package,
    # pyproject.toml pins the same) is copied into each build, so nothing installs uv inside an image.
    uv: str = "0.13.9"
    kubernetes: str = "v1.36.2"
    # Minikube 1.38.1 starts v1.36.x (with a "newer than tested" warning); kubectl/helm minimums below.
    minikube: str = "v1.38.1"
    kubectl: str = "v1.36.2"
    helm: str = "v3.19.0"
    # Minimum versions accepted on a user's machine.
    min_helm: str = "3.14.0"
    min_kubectl: str = "1.30.0"
    min_minikube: str = "1.35.0"
    min_docker: str = "20.10.0"
    # The gcloud every command of the gke and composer targets is run with in CI (against the Google APIs double):
    # user-workloads ConfigMaps/Secrets, `storage rsync --no-clobber`, `auth print-access-token`. Older releases
    # may have them all; none older is tested.
    min_gcloud: str = "528.0.0"


# The sha256 of each pinned release file of minikube, kubectl and helm, by platform, as each project publishes
# it (the release page or the `.sha256` file beside the download; for helm, of the .tar.gz archive). Keyed by
# (tool, version): bumping a version in `Versions` without its checksums makes `python -m automation tools`
# refuse that tool rather than trust an unchecked download. To pin a release, copy the published values of
# https://storage.googleapis.com/minikube/releases/VERSION/minikube-OS-ARCH.sha256,
# https://dl.k8s.io/release/VERSION/bin/OS/ARCH/kubectl.sha256 and
# https://get.helm.sh/helm-VERSION-OS-ARCH.tar.gz.sha256sum here.
TOOL_SHA256: dict[tuple[str, str], dict[str, str]] = {
    ("minikube", "v1.38.1"): {
        "linux-amd64": "099477eaf248bcb5bcea8ce78a2898e93ac01461c35189da1848c3de82ecd22e",
        "linux-arm64": "a0b8a1ebfc8c07a247271d8df98ac0ddd7c8c855b601d402463e2e50c08c6bab",
        "darwin-amd64": "db11dffba835609988e4e98c3a91a38653ce66ddfa8ea3aaea92d87c54a0a348",
        "darwin-arm64": "f9b0c70bb7daf38c683c0b6e46dc1b612600247ae826bf74576807746a919ee8",
    },
    ("kubectl", "v1.36.2"): {
        "linux-amd64": "1e9045ec32bea85da43de85f0065358529ea7c7a152eca78154fba5b58c27d82",
        "linux-arm64": "c957eb8c4bea27a3bb35b269edd9082e27f027f7b76b20b5bf4afebc726c6d3e",
        "darwin-amd64": "ce6c5e55cd17559e87e4fb5e73ebbbc2511bcf2b695d7a40c1b1461a9817d4b3",
        "darwin-arm64": "4408c85c83fd3a31adaa555bdf3c7a6c81f74b19449a9060ba31ab91926f023d",
    },
    ("helm", "v3.19.0"): {
        "linux-amd64": "a7f81ce08007091b86d8bd696eb4d86b8d0f2e1b9f6c714be62f82f96a594496",
        "linux-arm64": "440cf7add0aee27ebc93fada965523c1dc2e0ab340d4348da2215737fc0d76ad",
        "darwin-amd64": "09a108c0abda42e45af172be65c49125354bf7cd178dbe10435e94540e49c7b9",
        "darwin-arm64": "31513e1193da4eb4ae042eb5f98ef9aca7890cfa136f4707c8d4f70e2115bef6",
    },
}


VERSIONS = Versions()


def as_dict() -> dict[str, str]:
    return asdict(VERSIONS)


def parse(version: str) -> tuple[int, ...]:
    """'v1.36.2+k3s1' -> (1, 36, 2): enough for minimum-version checks."""
    core = version.strip().lstrip("v").split("+")[0].split("-")[0]
    parts = []
    for piece in core.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def at_least(found: str, minimum: str) -> bool:
    return parse(found) >= parse(minimum)
