"""Real-browser test support: a live server on loopback, Chromium through Playwright, axe-core.

Use from a test module with ``pytest_plugins = ["tests.browser_support"]`` or by importing the
fixtures. The server is the real command (``trust-survey serve --demo``) on a fresh SQLite
file migrated by the real ``trust-survey db upgrade`` (run once per test process on a template
file, then copied), so the pages are exactly what a user gets. Chromium is
Debian's (``/usr/bin/chromium``, installed by scripts/bootstrap); Playwright cannot download
browsers here. axe-core comes from ``node_modules`` (``package.json``).

Screenshots go to ``test-artifacts/screenshots/`` (kept by CI as artefacts).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# WCAG 2.2 AA: axe-core's tags for every A and AA rule up to 2.2.
WCAG_22_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
TEST_SECRET = "browser-test-secret-key-long-enough-0123456789abcdef"


@dataclass(frozen=True)
class LiveServer:
    """A running ``trust-survey serve --demo`` and what it printed."""

    base_url: str
    respondent_link: str
    open_link: str
    coordinator_email: str
    coordinator_password: str
    database_url: str
    process: subprocess.Popen[str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command(name: str) -> list[str]:
    executable = Path(sys.executable).with_name(name)
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "app.cli"]


_template_lock = threading.Lock()
_migrated_template: list[Path] = []


def _migrated_sqlite_template(env: dict[str, str]) -> Path:
    """A SQLite file migrated once per test process by ``trust-survey db upgrade``."""
    with _template_lock:
        if not _migrated_template:
            folder = Path(tempfile.mkdtemp(prefix="live-template-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            path = folder / "migrated.sqlite3"
            template_env = {**env, "DATABASE_URL": f"sqlite:///{path}"}
            command = [*_command("trust-survey"), "db", "upgrade"]
            subprocess.run(command, env=template_env, check=True, capture_output=True)
            connection = sqlite3.connect(path)
            try:  # the whole database into the main file, so that a copy of it is complete
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
            _migrated_template.append(path)
        return _migrated_template[0]


def start_live_server(folder: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """Migrate a fresh SQLite file under ``folder``, then serve the demo on a free port.

    A database file already there (a restart) is served as it is, after ``db upgrade``. A port
    taken by another process between choosing it and binding it (parallel test workers) is
    tried again on a new port.
    """
    database_file = folder / "live.sqlite3"
    database_url = f"sqlite:///{database_file}"
    for attempt in range(3):
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            # A locked database turns into the 503 page after 5 s rather than 30 s.
            "SQLITE_BUSY_TIMEOUT": "5",
            **(extra_env or {}),
        }
        command = _command("trust-survey")
        if attempt == 0:
            if env["DATABASE_URL"] == database_url and not database_file.exists():
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(_migrated_sqlite_template(env), database_file)
            else:
                command_line = [*command, "db", "upgrade"]
                subprocess.run(command_line, env=env, check=True, capture_output=True)
        process = subprocess.Popen(
            # New demo secrets on every start: a restart on the same database prints them again.
            [
                *command,
                "serve",
                "--demo",
                "--new-demo-secrets",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        printed: list[str] = []
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                if process.poll() is not None:
                    break
                continue
            printed.append(line)
            if "password" in line:
                break
        healthy = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        healthy = True
                        break
            except OSError:
                time.sleep(0.2)
        # Healthy and still running: the answer came from this server, not another one that
        # holds the port.
        if healthy and process.poll() is None:
            break
        if process.poll() is None:
            process.kill()
        rest = process.stdout.read()
        process.stdout.close()
        text = "".join(printed) + rest
        if "address already in use" not in text.lower() or attempt == 2:
            raise RuntimeError("the server exited or never answered:\n" + text)
    text = "".join(printed)
    links = re.findall(r"(http://\S+/s/\S+)", text)
    login = re.search(r"e-mail (\S+)\s+password (\S+)", text)
    if len(links) < 2 or login is None:
        process.kill()
        raise RuntimeError("could not read the demo links from:\n" + text)
    return LiveServer(
        base_url=base_url,
        respondent_link=links[0],
        open_link=links[1],
        coordinator_email=login.group(1),
        coordinator_password=login.group(2),
        database_url=database_url,
        process=process,
    )


def stop_live_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
    if server.process.stdout:
        server.process.stdout.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("live"))
    try:
        yield server
    finally:
        stop_live_server(server)


def _require_chromium() -> None:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        message = f"Chromium is not installed at {CHROMIUM} (scripts/bootstrap installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright ``Browser``)."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: object, tags: list[str] | None = None) -> list[dict[str, object]]:
    """Run axe-core in ``page`` (a Playwright ``Page``) and return its violations."""
    if not AXE_SCRIPT.exists():
        raise RuntimeError(f"{AXE_SCRIPT} is missing: run scripts/bootstrap (npm install)")
    page.add_script_tag(path=str(AXE_SCRIPT))  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        tags or WCAG_22_AA_TAGS,
    )
    violations: list[dict[str, object]] = result["violations"]
    return violations


def describe_violations(violations: list[dict[str, object]]) -> str:
    """A readable summary for an assertion message."""
    lines = []
    for violation in violations:
        nodes = violation.get("nodes", [])
        targets = [n.get("target") for n in nodes] if isinstance(nodes, list) else []
        lines.append(f"{violation.get('id')}: {violation.get('help')} at {json.dumps(targets)}")
    return "\n".join(lines)


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot under ``test-artifacts/screenshots``."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def answer_page(page: object, choice: int = 3) -> None:
    """Pick an answer in every unanswered radio group of a questionnaire page (by clicking
    labels: the ``choice``-th option, or the last where there are fewer)."""
    for group in page.locator(".nhsuk-radios").all():  # type: ignore[attr-defined]
        if group.locator("input:checked").count():
            continue
        labels = group.locator("label")
        labels.nth(min(choice, labels.count() - 1)).click()
