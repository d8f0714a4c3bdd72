"""Every pinned version, in one place. Everything else (targets, Helm values, tests, CI, images) reads these.

`python -m automation versions` prints them as JSON for shell scripts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Versions:
    # The Helm chart and the Airflow it deploys. 1.21.0 is the newest chart release we hold a verified copy
    # of; its default Airflow is 3.2.0, which we pin for the chart, the DAG tests and the worker images alike.
    chart: str = "1.21.0"
    airflow: str = "3.2.0"
    # Airflow's constraint files cannot always be reached: Python environments that install Airflow resolve
    # their dependencies as of this release date instead (uv --exclude-newer), so they match its image.
    airflow_release_date: str = "2026-04-08T12:52:05Z"
    # The Python of the nox sessions (the worker images name their base in images/python.Dockerfile).
    python: str = "3.11"
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


@dataclass(frozen=True)
class LintTools:
    """The linters of `nox -s lint`, pinned so that a new release never turns a green main red."""

    ruff: str = "0.17.6"
    mypy: str = "2.4.1"
    import_linter: str = "2.17"
    types_pyyaml: str = "6.0.12.20261122"

    def requirements(self) -> list[str]:
        return [f"ruff=={self.ruff}", f"mypy=={self.mypy}", f"import-linter=={self.import_linter}",
                f"types-PyYAML=={self.types_pyyaml}"]


VERSIONS = Versions()
LINT_TOOLS = LintTools()


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
