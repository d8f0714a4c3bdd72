"""Methods that code in the DAG folder overrides in Airflow's own classes (an operator, a provider's PodManager) and
that can no longer take what Airflow's method takes. Airflow and its providers call their own methods with their
own arguments; an override that cannot take them fails when the task runs, not when its file is parsed. Provider
10.22 passing `do_xcom_push` to `PodManager.await_pod_completion` is one such change, 10.25 passing `dry_run` to
`build_pod_request_obj` another.

Run in the parse's child process (automation.dags.gate), so under the Airflow being checked: stdlib only.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PASSED = inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD


def cannot_take(override: Callable[..., Any], original: Callable[..., Any]) -> str | None:
    """Why `override` cannot be called as `original` may be (every parameter given, positionally, then each one
    that has a name by its name), or None."""
    try:
        mine, theirs = inspect.signature(override), inspect.signature(original)
    except (TypeError, ValueError):  # a builtin or C method: nothing to compare
        return None
    params = list(theirs.parameters.values())
    positional = [p.name for p in params if p.kind in PASSED]
    named = {p.name: p.name for p in params[1:] if p.kind in (*PASSED, inspect.Parameter.KEYWORD_ONLY)}
    keyword_only = {p.name: p.name for p in params if p.kind == inspect.Parameter.KEYWORD_ONLY}
    for args, kwargs in ((positional, keyword_only), (positional[:1], named)):
        try:
            mine.bind(*args, **kwargs)
        except TypeError as exc:
            return f"takes {_shown(mine)}, but Airflow's takes {_shown(theirs)} ({exc})"
    return None


def _shown(signature: inspect.Signature) -> str:
    """The parameters alone, without annotations: what a call must match."""
    plain = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=plain, return_annotation=inspect.Signature.empty))


def incompatible(folder: Path) -> dict[str, str]:
    """'FILE:Class.method' -> why (FILE relative to `folder`: Airflow names a DAG file's module after a hash), for
    every class a module loaded from `folder` defines."""
    root = folder.resolve()
    found: dict[str, str] = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or not Path(file).resolve().is_relative_to(root):
            continue
        where = Path(file).resolve().relative_to(root).as_posix()
        for cls in vars(module).values():
            if isinstance(cls, type) and cls.__module__ == module.__name__:
                found.update({f"{where}:{method}": why for method, why in _class(cls).items()})
    return dict(sorted(found.items()))


def _class(cls: type) -> dict[str, str]:
    found = {}
    for name, value in vars(cls).items():
        if not inspect.isfunction(value) or (name.startswith("__") and name.endswith("__")):
            continue  # properties, nested classes; dunders are the author's own calls (__init__) or Python's
        for base in cls.__mro__[1:]:
            if name not in vars(base):
                continue
            original = vars(base)[name]
            if base.__module__.split(".")[0] == "airflow" and inspect.isfunction(original):
                why = cannot_take(value, original)
                if why:
                    found[f"{cls.__qualname__}.{name}"] = \
                        f"{why}: Airflow calls {base.__qualname__}.{name} with its own arguments"
            break  # the nearest definition is the one overridden
    return found
