"""`ui`: Airflow's UI in this machine's browser. The port-forward `up` leaves running is reused, or started again
when it stopped; the URL and where the login comes from are printed either way."""

from __future__ import annotations

import os
import sys

from automation.providers import Provider


def browser_command(url: str) -> list[str] | None:
    """The system's own opener (a desktop session only: on a server a console browser would take the terminal)."""
    if sys.platform == "darwin":
        return ["open", url]
    if sys.platform.startswith("linux") and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ["xdg-open", url]
    return None


def ui(provider: Provider, *, port: int | None = None, browser: bool = True) -> str:
    runner = provider.runner
    with runner.step("Airflow UI"):
        url = provider.deployer.open_ui(port)
        user, password = provider.login_hint()
        runner.say(f"    {url}  login {user} / {password}")
        opener = browser_command(url) if browser else None
        if opener is not None:
            runner.run(opener, timeout=30, fix=f"open {url} in your browser yourself")
        elif browser:
            runner.say("    no desktop session here: open the URL in your browser")
    return url
