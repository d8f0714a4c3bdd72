"""Each project's ConfigMap and Secret, named after the project, from its files (settings.projects)."""

from __future__ import annotations

from automation.core.errors import UserError
from automation.core.paths import rel
from automation.k8s.objects import ConfigMap, Secret
from automation.settings.model import Target
from automation.settings.projects import project_files

PROJECT_LABEL = "airflow-automation/project"


def project_objects(target: Target, namespace: str) -> list[ConfigMap | Secret]:
    """Each project's ConfigMap and Secret, named after the project, in `namespace` (where its task pods run)."""
    objects: list[ConfigMap | Secret] = []
    for name in target.projects:
        files = project_files(name, target)
        if not files.folder.is_dir():
            raise UserError(f"project {name!r} has no folder {rel(files.folder)}",
                            f"create it with a config.env, or remove {name!r} from the target's projects")
        project_labels = {PROJECT_LABEL: name}
        config = files.config_values(target.name)
        if config is not None:
            objects.append(ConfigMap(name, namespace, config, project_labels))
        secret = files.secret_values(target.name)
        if secret is not None:
            objects.append(Secret(name, namespace, secret, project_labels))
    return objects
