"""`rotate-fernet-key`: Airflow's documented rotation, NEW,OLD in the Secret, `airflow rotate-fernet-key`, then
NEW alone (`--finish`)."""

from __future__ import annotations

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.k8s import airflow_secrets
from automation.k8s.apply import ensure
from automation.k8s.cluster import Unreachable
from automation.providers import provider_for
from automation.settings.model import Target


def rotate_fernet_key(runner: Runner, target: Target, finish: bool) -> None:
    """Airflow's documented rotation: NEW,OLD in the Secret, `airflow rotate-fernet-key`, then NEW alone."""
    provider = provider_for(runner, target)
    state = provider.state()
    if isinstance(state, Unreachable):
        raise UserError(f"cluster not reachable: {state.why}", f"run `{target.command('up')}` first")
    name = airflow_secrets.core_secret_name(target)
    current = airflow_secrets.decode(state.get("Secret", name, target.namespace))
    if not current.get("fernet-key"):
        raise UserError(f"Secret/{name} has no fernet-key",
                        f"run `{target.command('up')}` first: it creates it")
    keys = current["fernet-key"].split(",")
    if finish:
        if len(keys) < 2:
            raise UserError("no rotation in progress (the Secret holds one Fernet key)",
                            f"start one with `{target.command('rotate-fernet-key')}`")
        new = {**current, "fernet-key": keys[0]}
    else:
        if len(keys) > 1:
            raise UserError("a rotation is already in progress (NEW,OLD in the Secret)",
                            f"finish it with `{target.command('rotate-fernet-key', '--finish')}`")
        new = airflow_secrets.rotate_fernet(current)
    ensure(runner, state, airflow_secrets.core_secret_of(target, new).render())  # its fingerprint follows
    assert provider.cluster is not None  # a target without one read as unreachable above
    kubectl = ["kubectl", *provider.cluster.kubectl_args(), "-n", target.namespace]
    runner.run([*kubectl, "rollout", "restart", "deployment", "-l", f"release={target.release}"])
    runner.run([*kubectl, "rollout", "status", "deployment", f"{target.release}-scheduler", "--timeout=600s"],
               timeout=660)
    if not finish:
        runner.run([*kubectl, "exec", f"deploy/{target.release}-scheduler", "--", "airflow", "rotate-fernet-key"],
                   timeout=600)
        runner.say("Rotation started: data re-encrypted with the new key. Finish with "
                   f"`{target.command('rotate-fernet-key', '--finish')}` to drop the old key.")
    else:
        runner.say("Rotation finished: only the new Fernet key remains.")
