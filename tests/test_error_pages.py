"""Errors as a browser and as the API see them: HTML pages for people, JSON for the API; the
unknown-link page is the same for every link that does not work; favicon, robots.txt."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.services import invitations
from app.settings import Settings
from tests.conftest import SurveySetUp

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_an_unknown_page_is_a_page_for_a_browser_and_json_for_the_api(client: TestClient) -> None:
    page = client.get("/no/such/page", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert '<h1 class="nhsuk-heading-l">Page not found</h1>' in page.text
    assert "nhsuk-header" in page.text
    api = client.get("/api/v1/no-such-thing", headers=BROWSER)
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    asked_for_json = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert asked_for_json.status_code == 404 and asked_for_json.json() == {"detail": "Not Found"}


def test_a_wrong_method_on_a_page_is_a_page(client: TestClient) -> None:
    answer = client.delete("/sign-in", headers=BROWSER)
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith("text/html")
    assert "Sorry, there is a problem" in answer.text


def test_unknown_mistyped_and_withdrawn_links_get_one_helpful_page(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()
    token = invitations.create_personal_links(
        session, survey.round_id, organisation_id=None, count=1, most=10
    )[0]
    withdrawn = invitations.create_open_link(session, survey.round_id)
    invitations.create_open_link(session, survey.round_id)  # replaces the first open link
    pages = {
        "unknown": client.get("/s/never-issued-link", headers=BROWSER),
        "mistyped": client.get(f"/s/{token[:-1]}", headers=BROWSER),
        "withdrawn": client.get(f"/s/{withdrawn}", headers=BROWSER),
        "section of an unknown link": client.get("/s/nope/sections/x", headers=BROWSER),
    }
    bodies = set()
    for name, page in pages.items():
        assert page.status_code == 404, name
        assert "Check the link in your e-mail" in page.text, name
        assert "ask your partnership's survey coordinator" in page.text, name
        bodies.add(page.text)
    assert len(bodies) == 1, "the pages differ: they tell which links exist"
    assert client.get(f"/s/{token}", headers=BROWSER).status_code == 200


@pytest.fixture
def failing_client(settings: Settings) -> Iterator[TestClient]:
    from app.main import create_app

    app = create_app(settings)

    @app.get("/coordinator/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    @app.get("/api/v1/broken")
    def broken_api() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_server_error_is_a_page_without_a_traceback(failing_client: TestClient) -> None:
    page = failing_client.get("/coordinator/broken", headers=BROWSER)
    assert page.status_code == 500
    assert "Sorry, there is a problem with the service" in page.text
    assert "RuntimeError" not in page.text and "a bug" not in page.text
    api = failing_client.get("/api/v1/broken")
    assert api.status_code == 500 and api.json() == {"detail": "internal server error"}


def test_favicon_and_robots(client: TestClient) -> None:
    robots = client.get("/robots.txt")
    assert robots.status_code == 200
    assert robots.headers["content-type"].startswith("text/plain")
    lines = [line for line in robots.text.splitlines() if not line.startswith("#")]
    assert lines == ["User-agent: *", "Disallow: /"]
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_every_app_builds_its_own_template_environment(settings: Settings) -> None:
    from app.main import create_app

    first, second = create_app(settings), create_app(settings)
    assert first.state.templates.env is not second.state.templates.env
    assert first.state.templates.env.filters["long_date"] is not None
