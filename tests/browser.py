"""Airflow's UI driven in a real browser (Debian's Chromium through Playwright, nothing downloaded): what a user
does after `up`, step by step, each step timed and photographed.

The journey is the one the README promises: the URL and the login `up` printed, the sign-in form, the DAG list
with no import error, a run triggered from the UI and watched until it succeeds, and the log of one of its tasks,
read in the UI after the task's pod was deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.conftest import REPO, need

# What Chromium needs to start as root on a machine with no display and a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1100, "height": 640}  # small pictures, still every column of the DAG list
ARTIFACTS = REPO / ".state" / "test-artifacts" / "browser"
# `AUTOMATION_README_PICTURES=1` copies the two pictures the documentation shows from the run (one command
# regenerates them: docs/how-to/day2.md "The UI in a browser").
README_PICTURES = REPO / "docs" / "assets"


def chromium() -> str:
    path = os.environ.get("AUTOMATION_TEST_CHROMIUM") or next(
        (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None)
    need(path is not None, "Chromium (Debian: apt-get install chromium)")
    assert path is not None
    return path


def example_dags() -> list[str]:
    """The example projects' DAGs: each project folder under dags/ holds the DAG of its own name."""
    return sorted(p.name for p in (REPO / "dags").iterdir() if (p / f"{p.name}.py").is_file())


@dataclass
class Journey:
    """One browser session against one Airflow UI: its steps, their times and their screenshots."""

    page: Any
    url: str
    folder: Path
    timings: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings.append((name, time.monotonic() - started))
            self.page.screenshot(path=str(self.folder / f"{len(self.timings):02d}-{name}.png"))

    def report(self) -> str:
        return ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.timings)

    def sign_in(self, user: str, password: str) -> str:
        """The form Airflow's UI sends a signed-out user to; what it says after the submit."""
        self.page.goto(self.url)
        self.page.fill("#username", user)
        self.page.fill("#password", password)
        self.page.click("input[type=submit], button[type=submit]")
        self.page.wait_for_load_state("networkidle")
        return str(self.page.inner_text("body"))

    def home(self) -> str:
        """The home page's text: its stats name "Dag Import Errors" when a DAG file fails to import."""
        self.page.goto(self.url)
        self.page.wait_for_load_state("networkidle")
        return str(self.page.inner_text("body"))

    def dag_list(self) -> tuple[list[str], str]:
        """The DAG ids the list links to, and the page's text."""
        self.page.goto(f"{self.url}/dags")
        self.page.wait_for_selector("a[href^='/dags/']")
        self.page.wait_for_load_state("networkidle")
        links = {str(a.get_attribute("href")) for a in self.page.query_selector_all("a[href^='/dags/']")}
        return sorted({link.split("/")[2] for link in links if link.count("/") == 2}), str(self.page.inner_text("body"))

    def trigger(self, dag_id: str, timeout: float = 60) -> str:
        """Trigger a run from the DAG's page (its Trigger button, then the dialog's); the new run's id, read from the
        links the page then shows (a manual run's id carries the time it was made: `manual__2026-12-04T08:15:32...`)."""
        self.page.goto(f"{self.url}/dags/{dag_id}")
        self.page.wait_for_load_state("networkidle")
        clicked = datetime.now(UTC) - timedelta(seconds=5)  # this machine's clock against the cluster's
        self.page.get_by_role("button", name="Trigger Dag").click()
        self.page.get_by_role("dialog").get_by_role("button", name="Trigger", exact=True).click()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [run for run in self._run_ids(dag_id) if run.startswith("manual__")
                   and datetime.fromisoformat(run.removeprefix("manual__")) >= clicked]
            if new:
                return max(new)
            time.sleep(1)
        raise AssertionError(f"no new run of {dag_id} shown {timeout:.0f}s after the trigger")

    def _run_ids(self, dag_id: str) -> set[str]:
        prefix = f"/dags/{dag_id}/runs/"
        return {str(a.get_attribute("href"))[len(prefix):].split("/")[0]
                for a in self.page.query_selector_all(f"a[href^='{prefix}']")}

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """The run's page, reloaded until its state badge says it ended; that state."""
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            self.page.goto(f"{self.url}/dags/{dag_id}/runs/{quote(run_id)}")
            self.page.wait_for_load_state("networkidle")
            header = str(self.page.inner_text("body"))
            found = re.search(r"\b(Success|Failed)\b", header.split("Task Instances")[0])
            if found:
                return found.group(1)
            state = "running"
            time.sleep(3)
        return state

    def task_log(self, dag_id: str, run_id: str, task_id: str, line: re.Pattern[str], timeout: float = 60) -> str:
        """The task's page with its Logs tab; its text once `line` shows (the log loads after the page)."""
        self.page.goto(f"{self.url}/dags/{dag_id}/runs/{quote(run_id)}/tasks/{task_id}")
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            self.page.wait_for_load_state("networkidle")
            text = str(self.page.inner_text("body"))
            if line.search(text):
                return text
            time.sleep(2)
        return text


@contextmanager
def browser_journey(url: str, name: str) -> Iterator[Journey]:
    """A fresh Chromium (a new profile: signed out) on `url`; screenshots under .state/test-artifacts/browser/NAME."""
    from playwright.sync_api import sync_playwright

    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(60_000)
            journey = Journey(page, url.rstrip("/"), folder)
            yield journey
            print(f"browser steps ({name}): {journey.report()}")
        finally:
            browser.close()


def keep_readme_pictures(journey: Journey, pictures: dict[str, str]) -> None:
    """Copy the named steps' screenshots to the README's pictures when asked (AUTOMATION_README_PICTURES=1)."""
    if os.environ.get("AUTOMATION_README_PICTURES") != "1":
        return
    README_PICTURES.mkdir(parents=True, exist_ok=True)
    taken = {p.stem.split("-", 1)[1]: p for p in journey.folder.glob("*.png")}
    for step, picture in pictures.items():
        shutil.copy(taken[step], README_PICTURES / picture)


def run_journey(url: str, user: str, password: str, name: str, *, task_pods: Callable[[], list[str]],
                pictures: dict[str, str] | None = None) -> Journey:
    """The whole journey of the module docstring, asserting each step; `task_pods` lists the pods of example1's
    extract task still in the cluster (none once its run succeeded)."""
    expected = example_dags()
    with browser_journey(url, name) as journey:
        with journey.step("wrong-password"):
            refused = journey.sign_in(user, password + "-wrong")
        assert "Invalid login" in refused, refused[:500]
        with journey.step("sign-in"):
            journey.sign_in(user, password)
        with journey.step("home"):
            home = journey.home()
        assert "Import Error" not in home, home[:2000]  # the stat Airflow shows for a file that fails to import
        with journey.step("dag-list"):
            shown, _ = journey.dag_list()
        assert set(expected) <= set(shown), (expected, shown)
        with journey.step("trigger"):
            run_id = journey.trigger("example1")
        with journey.step("run"):
            state = journey.wait_for_run("example1", run_id, timeout=600)
        assert state == "Success", f"run {run_id} of example1: {state}"
        deadline = time.monotonic() + 120  # deleted on success; a pod in its grace period may linger a moment
        while task_pods() and time.monotonic() < deadline:
            time.sleep(2)
        assert task_pods() == [], "the extract task's pods should be deleted once it succeeded"
        line = re.compile(r"\d+ rows, \d+ dropped \(incomplete or duplicate\)")
        with journey.step("task-log"):
            log = journey.task_log("example1", run_id, "extract", line)
        assert line.search(log), log[-3000:]
        keep_readme_pictures(journey, pictures or {})
    return journey
