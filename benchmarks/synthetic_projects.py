"""Synthetic projects made through the public conventions only, for the scale benchmark (never the product's
defaults): `k8s/NAME/config.env` and `secret.env`, `data/NAME/input/`, `dags/NAME/` with M DAGs of 3
`project_task`s each (their scripts under `dags/NAME/scripts/`, which `.airflowignore` keeps from the
parser), and a settings overlay listing them after the example projects. Everything made is removed on exit.

    with SyntheticProjects(count=47, dags_per_project=4) as made:
        ... made.overlay, made.names ...
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import yaml

REPO = Path(__file__).resolve().parent.parent
PREFIX = "scale-"
# The repository's own projects (k8s/NAME, as `up` reads them) and their DAG files (dags/FOLDER/*.py; scripts sit
# one level down): read, not listed here, so an example added later is counted (a fixed list missed example-xcom).
EXAMPLES = sorted(p.name for p in (REPO / "k8s").iterdir() if p.is_dir() and not p.name.startswith(PREFIX))
EXAMPLE_DAG_FILES = sum(1 for name in EXAMPLES for _ in (REPO / "dags" / name.replace("-", "_")).glob("*.py"))

DAG_FILE = '''"""Airflow DAG {dag_id}, synthetic (benchmarks/synthetic_projects.py): project {project}."""

from common.utils import project_dag, project_task

PROJECT = "{project}"
ARGS = ["--run-id", "{{{{ run_id }}}}"]

with project_dag(PROJECT, "{dag_id}", output="output/{dag_id}.csv", tags=["synthetic"]):
    first = project_task(PROJECT, "extract", "{folder}/scripts/step.py", args=[*ARGS, "--step", "extract"])
    second = project_task(PROJECT, "transform", "{folder}/scripts/step.py", args=[*ARGS, "--step", "transform"])
    third = project_task(PROJECT, "load", "{folder}/scripts/step.py", args=[*ARGS, "--step", "load"])
    first >> second >> third
'''
STEP_SCRIPT = '''"""A synthetic task step: copies its input to the output."""
import os
print("step", os.environ.get("PROJECT"))
'''


@dataclass
class SyntheticProjects:
    count: int
    dags_per_project: int = 4
    target: str = "ci"
    repo: Path = REPO
    names: list[str] = field(default_factory=list)
    made: list[Path] = field(default_factory=list)
    overlay: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="scale-")) / "projects.yaml")

    @property
    def projects(self) -> list[str]:
        return [*EXAMPLES, *self.names]

    @property
    def dag_files(self) -> int:
        return self.count * self.dags_per_project

    @property
    def expected_dags(self) -> int:
        """Every DAG the API lists once all are parsed: the examples' and the synthetic ones."""
        return EXAMPLE_DAG_FILES + self.dag_files

    def config_values(self, name: str) -> dict[str, str]:
        return {"INPUT_FILE": "input/rows.csv", "OUTPUT_FILE": f"output/{name}.csv", "LOG_LEVEL": "INFO"}

    def __enter__(self) -> SyntheticProjects:
        for i in range(1, self.count + 1):
            name = f"{PREFIX}{i:03d}"
            folder = name.replace("-", "_")
            self.names.append(name)
            k8s = self.repo / "k8s" / name
            dags = self.repo / "dags" / folder
            data = self.repo / "data" / name
            for path in (k8s, dags, data):
                if path.exists():
                    raise SystemExit(f"{path} exists: remove it (a previous run was interrupted?)")
                self.made.append(path)
            k8s.mkdir(parents=True)
            (k8s / "config.env").write_text("".join(f"{k}={v}\n" for k, v in self.config_values(name).items()))
            (k8s / "secret.env").write_text(f"API_TOKEN=synthetic-{i:03d}\n")
            (k8s / "secret.env.example").write_text("API_TOKEN=\n")
            (data / "input").mkdir(parents=True)
            (data / "input/rows.csv").write_text("id,value\n1,2\n")
            (dags / "scripts").mkdir(parents=True)
            (dags / "scripts/step.py").write_text(STEP_SCRIPT)
            for d in range(1, self.dags_per_project + 1):
                dag_id = f"{folder}_dag{d}"
                (dags / f"{dag_id}.py").write_text(DAG_FILE.format(dag_id=dag_id, project=name, folder=folder))
        self.overlay.write_text(yaml.safe_dump({"targets": {self.target: {"projects": self.projects}}}))
        return self

    def touch_config(self, name: str) -> None:
        """One project's config changed (a value edited), as a user would."""
        path = self.repo / "k8s" / name / "config.env"
        path.write_text(path.read_text().replace("LOG_LEVEL=INFO", "LOG_LEVEL=DEBUG"))

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for path in self.made:
            shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(self.overlay.parent, ignore_errors=True)
