"""`gcloud storage rsync` as the cloud targets run it: one spelling of the command for GKE's buckets and Composer's,
skipping what the rehearsal's bucket copy skips (`buckets.SKIPPED_PARTS`), so every target gets the same files."""

from __future__ import annotations

import re
from pathlib import Path

from automation.storage.buckets import SKIPPED_PARTS

# Folders never copied, wherever they are: caches and notebook checkpoints.
SKIPPED_FOLDERS = "(^|.*/)(" + "|".join(sorted(re.escape(part) for part in SKIPPED_PARTS)) + ")/.*"


def rsync_command(source: Path, destination: str, project: str, *, mirror: bool = False, no_clobber: bool = False,
                  skip_folders: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> list[str]:
    """Copy `source` into `destination` (gs://...). `mirror`: objects with no local file are deleted (code);
    `no_clobber`: objects already there are never overwritten (inputs a run may have changed); `skip_folders`:
    more folder names never copied (outputs); `keep`: top-level names neither copied nor deleted (an excluded
    destination object is left alone)."""
    excludes = [SKIPPED_FOLDERS]
    if skip_folders:
        excludes.append("(^|.*/)(" + "|".join(skip_folders) + ")/.*")
    excludes += [f"^{re.escape(name)}$" for name in keep]
    return ["gcloud", "storage", "rsync", str(source), destination, "--recursive",
            *(["--delete-unmatched-destination-objects"] if mirror else []),
            *(["--no-clobber"] if no_clobber else []),
            *(f"--exclude={pattern}" for pattern in excludes), "--project", project]
