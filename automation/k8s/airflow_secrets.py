"""Airflow's own secrets: made once, never regenerated; the external metadata DB URL; the UI login."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets as pysecrets
from typing import Any

from cryptography.fernet import Fernet

from automation.core.errors import UserError
from automation.core.runner import register_secret
from automation.k8s.objects import Secret
from automation.settings.model import Target

# One Secret holds every key the chart reads by name (fernetKeySecretName, apiSecretKeySecretName, ...).
CORE_KEYS = ("fernet-key", "api-secret-key", "jwt-secret", "webserver-secret-key")


def core_secret_name(target: Target) -> str:
    return f"{target.release}-core-secrets"


def metadata_secret_name(target: Target) -> str:
    return f"{target.release}-metadata-db"


def login_secret_name(target: Target) -> str:
    return target.login.password_secret or f"{target.release}-ui-login"


def generate(key: str) -> str:
    value = Fernet.generate_key().decode() if key == "fernet-key" else pysecrets.token_urlsafe(32)
    register_secret(value)
    return value


def decode(secret: dict[str, Any] | None) -> dict[str, str]:
    """The values of a Secret read from the cluster (registered as secrets: they are never printed)."""
    values = {k: base64.b64decode(v).decode() for k, v in ((secret or {}).get("data") or {}).items()}
    for value in values.values():
        register_secret(value)
    return values


# What `up` (and `rotate-fernet-key`) last wrote into the core Secret: a sha256 per key, never a value, so that
# `doctor` can tell a Secret changed behind their back (a new Fernet key makes stored connections unreadable).
FINGERPRINT_ANNOTATION = "airflow-automation/values-sha256"


def fingerprint(values: dict[str, str]) -> str:
    """The annotation's value: {key: sha256 of its value}, as compact JSON (the values are random tokens)."""
    return json.dumps({k: hashlib.sha256(v.encode()).hexdigest() for k, v in sorted(values.items())},
                      separators=(",", ":"))


def recorded_fingerprint(secret: dict[str, Any] | None) -> str | None:
    return (((secret or {}).get("metadata") or {}).get("annotations") or {}).get(FINGERPRINT_ANNOTATION)


def changed_keys(secret: dict[str, Any]) -> list[str] | None:
    """Keys whose value differs from what was recorded when it was written; None when nothing was recorded."""
    recorded = recorded_fingerprint(secret)
    if recorded is None:
        return None
    try:
        then = json.loads(recorded)
    except ValueError:
        return sorted(decode(secret))
    now = json.loads(fingerprint(decode(secret)))
    return sorted(k for k in set(then) | set(now) if then.get(k) != now.get(k))


def core_secret_of(target: Target, values: dict[str, str]) -> Secret:
    """The core Secret holding `values`, with their fingerprint."""
    return Secret(core_secret_name(target), target.namespace, values,
                  annotations={FINGERPRINT_ANNOTATION: fingerprint(values)})


def core_secret(target: Target, existing: dict[str, Any] | None) -> tuple[Secret, list[str]]:
    """The core Secret with every present key kept as is, and the names of the keys that were missing."""
    current = decode(existing)
    missing = [k for k in CORE_KEYS if not current.get(k)]
    data = {k: current.get(k) or generate(k) for k in CORE_KEYS}
    return core_secret_of(target, data), missing


def broker_secret_name(target: Target) -> str:
    return f"{target.release}-celery-broker"


def broker_secret(target: Target, existing: dict[str, Any] | None) -> Secret:
    """The Celery broker's password and URL, in the keys the chart reads (redis.passwordSecretName: `password`,
    data.brokerUrlSecretName: `connection`). Made once: the chart's own would get a new random password on
    every `helm upgrade` while the running Redis keeps the old one."""
    password = decode(existing).get("password") or generate("redis-password")
    url = f"redis://:{password}@{target.release}-redis:6379/0"
    register_secret(url)
    return Secret(broker_secret_name(target), target.namespace, {"password": password, "connection": url})


def rotate_fernet(current: dict[str, str]) -> dict[str, str]:
    """Airflow's documented rotation, first half: NEW,OLD so both decrypt; `airflow rotate-fernet-key`
    re-encrypts, then `finish` keeps NEW alone."""
    old = current["fernet-key"].split(",")[0]
    return {**current, "fernet-key": f"{generate('fernet-key')},{old}"}


def external_db_url(target: Target) -> str:
    path = target.path(target.database.url_file or "")
    if not path.is_file():
        raise UserError(f"database URL file {path} does not exist",
                        "write the SQLAlchemy URL (postgresql://USER:PASS@HOST:5432/DB) into it")
    url = path.read_text().strip()
    if "://" not in url:
        raise UserError(f"{path}: expected a SQLAlchemy URL such as postgresql://USER:PASS@HOST:5432/DB")
    register_secret(url)
    password = re.match(r"^[^:]+://[^:/@]+:([^@]+)@", url)
    if password:
        register_secret(password.group(1))
    return url


def check_external_db_answers(target: Target, timeout: float = 3.0) -> str | None:
    """Refuse, before Helm runs, an external metadata database that does not answer: the chart's migration job
    would otherwise wait out its timeout and leave a half-made release. Checked from this machine; a host this
    machine cannot resolve (a name only the cluster knows) is not checked, and that is said (the return value).
    """
    import socket
    from urllib.parse import urlsplit

    url = external_db_url(target)
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 5432
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return f"metadata database host {host} does not resolve here (a name only the cluster knows?): not checked"
    reason = "no address"
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.settimeout(timeout)
            try:
                probe.connect(address)
                return None
            except TimeoutError:
                reason = f"no answer within {timeout:.0f}s"
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
    raise UserError(f"the metadata database at {host}:{port} does not answer ({reason.lower()})",
                    f"start it, or fix the URL in {target.path(target.database.url_file or '')} "
                    "(database.url_file); nothing was changed")
