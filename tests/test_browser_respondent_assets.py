"""The NHS.UK frontend files the browser loads: served with cache headers, and optional."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.web import assets


def test_frontend_css_js_and_images_are_served_with_cache_headers(client: TestClient) -> None:
    frontend = assets.find_frontend()
    if not frontend.available:
        pytest.skip("node_modules/nhsuk-frontend is not installed (scripts/bootstrap)")
    page = client.get("/healthz")
    assert page.status_code == 200
    css = client.get(f"/assets/nhsuk-frontend-{frontend.version}.min.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == assets.YEAR_IMMUTABLE
    assert ".nhsuk-radios__input" in css.text
    script = client.get(f"/assets/nhsuk-frontend-{frontend.version}.min.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    image = client.get("/assets/images/favicon.svg")  # the CSS points at /assets/images
    assert image.status_code == 200 and image.headers["cache-control"] == assets.ONE_DAY
    own = client.get("/static/survey.css")
    assert own.status_code == 200 and own.headers["cache-control"] == assets.ONE_HOUR
    init = client.get("/static/init.js")
    assert "javascript" in init.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    [
        "/assets/nhsuk-frontend-0.0.1.min.css",
        "/assets/../package.json",
        "/assets/%2e%2e/%2e%2e/package.json",
        "/assets/images/../../index.scss",
        "/assets/images/nothing-here.svg",
        "/static/../web/assets.py",
        "/static/nothing.css",
    ],
)
def test_only_built_files_inside_the_folders_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_the_app_runs_without_node_modules_and_says_why_pages_are_plain(
    settings: object,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    from app.main import create_app
    from app.settings import Settings

    assert isinstance(settings, Settings)
    monkeypatch.setattr(assets, "FRONTEND_PACKAGE", tmp_path / "node_modules" / "nhsuk-frontend")
    with caplog.at_level(logging.WARNING, logger="app.web.assets"):
        app = create_app(settings)
    assert "nhsuk-frontend is not installed" in caplog.text
    assert "scripts/bootstrap" in caplog.text
    try:
        with TestClient(app) as client:
            page = client.get("/sign-in")
            assert page.status_code == 200
            assert "nhsuk-frontend-" not in page.text  # no link to a missing stylesheet
            assert "/static/survey.css" in page.text
            assert client.get("/assets/images/favicon.svg").status_code == 404
    finally:
        create_app(settings)  # the templates point at the installed frontend again
