"""A port-forward that stays up: `kubectl port-forward` exits when one connection breaks (a client that
hangs up early is enough), so this loop restarts it until it is stopped (`nox -s down`).

Started in the background (automation.k8s.port_forward) as `python -m automation.k8s.forward_loop KUBECTL_ARGS`."""

from __future__ import annotations

import sys
import time

from automation.core.process import Process


def main(args: list[str]) -> int:
    delay = 0.5
    while True:
        started = time.monotonic()
        # Attached, not captured: a forward prints a line per connection for as long as it runs (days).
        code = Process(["kubectl", *args], timeout=None).attach(sys.stdout, sys.stderr)
        # A forward that ran for a while was healthy: restart at once; one that fails fast backs off.
        delay = 0.5 if time.monotonic() - started > 10 else min(delay * 2, 10)
        print(f"port-forward exited with {code}; restarting in {delay:.1f}s", flush=True)
        time.sleep(delay)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
