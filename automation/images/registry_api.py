"""A registry's own API, read without a login (a registry of this machine or the cluster's), and what `docker push`
reports."""

from __future__ import annotations


def is_cloud(host: str) -> bool:
    """Google's registries (Artifact Registry, Container Registry): reached with gcloud's credential helper."""
    return host.endswith("-docker.pkg.dev") or host.endswith("gcr.io")


def _scheme(host: str) -> str:
    """Docker and containerd speak plain HTTP to a registry on this machine, HTTPS to any other."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return "http" if name in ("localhost", "[::1]") or name.startswith("127.") else "https"


def registry_answers(host: str) -> bool:
    """Whether a registry listens at `host` (any answer to /v2/, a 401 asking for a login included)."""
    import httpx

    try:
        httpx.get(f"{_scheme(host)}://{host}/v2/", timeout=3)
    except httpx.HTTPError:
        return False
    return True


_MANIFESTS = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


def manifest_exists(push: str) -> bool:
    """Whether the registry already holds HOST/REPO:TAG (the registry API, no login: a registry of this
    machine or the cluster's). An answer other than 200 counts as absent: the push then decides."""
    import httpx

    host, rest = push.split("/", 1)
    repo, tag = rest.rsplit(":", 1)
    try:
        answer = httpx.head(f"{_scheme(host)}://{host}/v2/{repo}/manifests/{tag}", timeout=5,
                            headers={"Accept": _MANIFESTS})
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def push_counts(output: str) -> tuple[int, int]:
    """(layers pushed, layers the registry already had), from `docker push`'s own report per layer."""
    lines = [line.strip() for line in output.splitlines()]
    # "Mounted from OTHER": the registry had the blob under another repository and links it, nothing is sent.
    return (sum(line.endswith(": Pushed") for line in lines),
            sum(line.endswith(": Layer already exists") or ": Mounted from " in line for line in lines))
