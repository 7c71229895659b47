"""HTML to an A4 PDF: headless Chromium where it is installed, WeasyPrint otherwise.

``PDF_ENGINE`` chooses: ``auto`` (the default) prints with Chromium when an executable is
found (``CHROMIUM_PATH``, else ``chromium``, ``chromium-browser`` or ``google-chrome`` on the
``PATH``) and falls back to WeasyPrint when it is missing or fails; ``chromium`` uses only
Chromium (a failure is a clean 503, never a hang); ``weasyprint`` only WeasyPrint.

Chromium runs as ``chromium --headless --print-to-pdf``, one short-lived process per PDF in
its own temporary profile and process group: no browser is kept running inside the service,
nothing is shared between two prints, a print that takes longer than ``PDF_TIMEOUT`` seconds
is killed with all its children, and at most ``PDF_CONCURRENCY`` print at once (the others
wait, within the same timeout, for a turn). The HTML is the service's own rendered template,
with no scripts and a Content-Security-Policy that forbids scripts and every fetch, so the page
can load nothing from the disk or the network. (Chromium's
``--blink-settings=scriptEnabled=false`` would be a second lock, but with it Chromium 156 prints
nothing.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.services.errors import PdfUnavailableError

logger = logging.getLogger(__name__)

PdfEngine = Literal["auto", "chromium", "weasyprint"]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--disable-gpu",
    "--no-pdf-header-footer",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--mute-audio",
    "--hide-scrollbars",
)


@dataclass(frozen=True)
class PdfOptions:
    """How PDFs are made (from the settings)."""

    engine: PdfEngine = "auto"
    chromium_path: Path | None = None
    timeout: float = 30.0
    concurrency: int = 2


def find_chromium(configured: Path | None = None) -> Path | None:
    """The Chromium executable to print with: ``configured`` if it exists, else the first of
    :data:`CHROMIUM_NAMES` on the ``PATH``; ``None`` when there is none."""
    if configured is not None:
        return configured if configured.is_file() and os.access(configured, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def chromium_command(executable: Path, html: Path, pdf: Path, profile: Path) -> list[str]:
    """The command line that prints ``html`` to ``pdf`` (used by the benchmark too)."""
    command = [str(executable), *CHROMIUM_FLAGS]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    command += [f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", html.as_uri()]
    return command


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _print_slots(concurrency: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _slots.setdefault(concurrency, threading.BoundedSemaphore(concurrency))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def chromium_pdf(
    html: str, executable: Path, *, timeout: float = 30.0, concurrency: int = 2
) -> bytes:
    """``html`` printed by headless Chromium (A4 unless the page's ``@page`` says otherwise).

    Raises :class:`PdfUnavailableError` when no turn comes within ``timeout`` seconds, when
    the print takes longer (the browser and its children are killed) or when Chromium fails.
    """
    started = time.monotonic()
    slots = _print_slots(concurrency)
    if not slots.acquire(timeout=timeout):
        raise PdfUnavailableError("every PDF printer is busy")
    try:
        with tempfile.TemporaryDirectory(prefix="trust-survey-pdf-") as folder:
            page, pdf = Path(folder) / "report.html", Path(folder) / "report.pdf"
            page.write_text(html, encoding="utf-8")
            command = chromium_command(executable, page, pdf, Path(folder) / "profile")
            process = subprocess.Popen(  # noqa: S603 - our own command, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            left = max(0.1, timeout - (time.monotonic() - started))
            try:
                _, errors = process.communicate(timeout=left)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                raise PdfUnavailableError(f"Chromium took longer than {timeout:g} s") from None
            # The browser's helpers share its process group; none may outlive the print.
            _kill_group(process)
            content = pdf.read_bytes() if pdf.is_file() else b""
            if process.returncode != 0 or not content.startswith(b"%PDF"):
                detail = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                raise PdfUnavailableError(
                    f"Chromium exited with status {process.returncode}: {detail[0][:200]}"
                )
            return content
    finally:
        slots.release()


def weasyprint_pdf(html: str) -> bytes:
    """``html`` laid out and written by WeasyPrint (needs Pango)."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def html_to_pdf(html: str, options: PdfOptions) -> bytes:
    """``html`` as a PDF with the engine ``options`` choose (see the module's text)."""
    if options.engine == "weasyprint":
        return weasyprint_pdf(html)
    executable = find_chromium(options.chromium_path)
    if executable is None:
        if options.engine == "chromium":
            raise PdfUnavailableError("Chromium is not installed (see CHROMIUM_PATH)")
        return weasyprint_pdf(html)
    try:
        return chromium_pdf(
            html, executable, timeout=options.timeout, concurrency=options.concurrency
        )
    except PdfUnavailableError as error:
        if options.engine == "chromium":
            raise
        logger.warning("PDF: %s; printing with WeasyPrint instead", error)
        return weasyprint_pdf(html)
