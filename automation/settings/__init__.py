"""Settings: what a target is (`model`), how `targets.yaml` and its overlays load (`files`), the projects'
env files (`projects`) and the task-pod contract shared with the DAG helpers (`contract`)."""

from automation.settings.files import load, load_target, settings_files
from automation.settings.model import Target

__all__ = ["Target", "load", "load_target", "settings_files"]
