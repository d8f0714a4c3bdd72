"""`python -m tests.google_double --port 8765`: serve the double until interrupted, after printing the gcloud
environment that points at it (paste the `export` lines into a shell)."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from tests.google_double.server import GoogleDouble, print_environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.google_double", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--project", default="double-project")
    parser.add_argument("--config-dir", type=Path, help="CLOUDSDK_CONFIG (default: a new temporary directory)")
    parser.add_argument("--composer-environment", metavar="NAME", help="seed a RUNNING Composer environment")
    parser.add_argument("--image-version", default="composer-3-airflow-2.10.5-build.12")
    parser.add_argument("--gke-cluster", metavar="NAME", help="seed a RUNNING GKE cluster")
    parser.add_argument("--location", default="us-central1")
    args = parser.parse_args(argv)
    config_dir = args.config_dir or Path(tempfile.mkdtemp(prefix="gcloud-double-"))
    double = GoogleDouble(args.project, host=args.host, port=args.port)
    double.start()
    if args.composer_environment:
        double.seed_composer_environment(args.composer_environment, args.location, image_version=args.image_version)
    if args.gke_cluster:
        double.seed_gke_cluster(args.gke_cluster, args.location)
    # Stopped by Ctrl-C or a SIGTERM: a handler sets the event, and the wait is in short slices so that the
    # handler runs at once whatever the main thread waits on (an untimed wait once missed a SIGINT in CI).
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(print_environment(double, config_dir), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
