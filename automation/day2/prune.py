"""`prune`: delete the target's leftover task pods, in the task namespace: every failed one, and every one that
never started and never will (its task gave up on it, or its image cannot be pulled). Selected by the labels
`project_task` and the provider's operator set, never by name, so no other pod is touched. A pod that ran keeps
its log in its task's log and a pod's events are logged there too (`logs --dag D --task T`), so nothing is lost.
Safe to re-run: a pod already gone is skipped."""

from __future__ import annotations

from automation.core.errors import UserError
from automation.day2.components import cluster_only
from automation.k8s.cluster import LiveCluster
from automation.k8s.task_pods import SELECTOR, labels, leftover_task_pods
from automation.providers import Provider


def prune(provider: Provider) -> int:
    """Delete the leftover task pods; the number deleted (planned, in a dry run)."""
    cluster_only(provider, "pruning task pods",
                 "the operator's own cleanup (dags/common/utils/project_pod.py), which deletes a project's leftover "
                 "task pods whenever one of its tasks ends")
    runner, target = provider.runner, provider.target
    namespace = provider.task_pod_facts().namespace
    state = provider.state()
    if not isinstance(state, LiveCluster):
        why = getattr(state, "why", "?")
        if runner.dry_run:
            runner.say(f"    warning: cluster not reachable ({why}): planning without it")
            runner.plan(f"delete the failed and never-started task pods in namespace {namespace} "
                        f"(labels {SELECTOR})")
            return 0
        raise UserError(f"the cluster of target {target.name!r} is not reachable: {why}",
                        f"start it: {target.command('up')}")
    with runner.step(f"task pods in namespace {namespace}: the failed and the never-started ones"):
        doomed = leftover_task_pods(state.list("Pod", namespace, SELECTOR), namespace)
        for pod, why in doomed:
            name, found = pod["metadata"]["name"], labels(pod)
            runner.plan(f"delete Pod/{name} -n {namespace} (dag {found.get('dag_id', '?')}, task "
                        f"{found.get('task_id', '?')}: {why})")
            if not runner.dry_run:
                state.delete("Pod", name, namespace)
        if not doomed:
            runner.ok("nothing to prune")
        elif not runner.dry_run:
            runner.ok(f"{len(doomed)} task pod(s) deleted; their logs and events stay in the task logs "
                      f"({target.command('logs', '--dag', 'D', '--task', 'T')})")
    return len(doomed)
