"""CSRF protection on every state-changing HTML form route, enumerated from the app.

Every POST/PUT/PATCH/DELETE outside ``/api/`` is either protected (no token or a wrong token:
403, the right token: it works) or listed in ``EXEMPT`` with the reason.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.test_authorisation import MATRIX, _outcome
from tests.test_authorisation_support import PASSWORD, UNSAFE, app_routes, build_world

# The respondent pages need the link's token in the URL (256 random bits), which a forging
# site cannot know; their only cookie, the link's resume cookie, is SameSite=Lax (not sent on
# another site's POST) and scoped to that link's own path.
EXEMPT = {
    ("POST", "/s/{token}/start"): "link token in the URL; the link's own Lax cookie",
    (
        "POST",
        "/s/{token}/sections/{section_id}",
    ): "link token in the URL; the link's own Lax cookie",
    ("POST", "/s/{token}/submit"): "link token in the URL; the link's own Lax cookie",
    ("POST", "/s/{token}/resume"): "link token in the URL; the link's own Lax cookie",
    ("POST", "/mail/opt-out/{token}"): "opt-out token in the URL (256 bits); sets no cookie",
}
# Who posts each form: the admin can post every coordinator form.
SENDER = "admin"


def _form_routes(client: TestClient) -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for method, path in app_routes(client.app)  # type: ignore[arg-type]
        if method in UNSAFE and not path.startswith("/api/")
    )


def test_every_form_route_is_protected_or_exempt_with_a_reason(client: TestClient) -> None:
    routes = _form_routes(client)
    assert routes, "no form routes found"
    assert set(EXEMPT) <= set(routes), "exemptions for routes that are gone"


@pytest.mark.parametrize("token", [None, "", "wrong-token-value"])
def test_form_posts_without_the_right_token_are_refused(
    client: TestClient, session: Session, token: str | None
) -> None:
    world = build_world(client, session)
    world.csrf = lambda role: token  # type: ignore[method-assign]
    checked = []
    for method, path in _form_routes(client):
        if (method, path) in EXEMPT:
            continue
        entry = MATRIX[(method, path)]
        answer = entry.send(world, "A" if entry.scoped else None, SENDER)
        assert answer.status_code == 403, f"{method} {path}: {answer.status_code}"
        assert "form has expired or came from another site" in answer.text
        checked.append(path)
    assert len(checked) >= 10
    # Nothing was done: the admin is still signed in, and no partnership was made.
    assert world.clients[SENDER].get("/coordinator", follow_redirects=False).status_code == 200
    listed = world.clients[SENDER].get("/api/v1/partnerships").json()
    assert len(listed) == 2


def test_form_posts_with_the_right_token_work(client: TestClient, session: Session) -> None:
    world = build_world(client, session)
    signing_out = {("POST", "/sign-out"), ("POST", "/sign-out")}
    routes = sorted(_form_routes(client), key=lambda route: route in signing_out)
    for method, path in routes:
        entry = MATRIX[(method, path)]
        which = "A" if entry.scoped else None
        answer = entry.send(world, which, SENDER)
        # As the authorisation matrix expects: allowed, or the refusal of input its entry
        # sends wrong on purpose (a wrong password, a bad date...), never the CSRF 403.
        expected = entry.policy(SENDER, which)
        outcome = _outcome(answer, path)
        assert outcome == expected, f"{method} {path}: {answer.status_code}, expected {expected}"
    admin = TestClient(client.app)
    listed = admin.get("/api/v1/partnerships", auth=("admin@example.org", PASSWORD)).json()
    assert len(listed) >= 3  # the partnership form made one


def test_exempt_respondent_forms_set_only_the_links_own_lax_cookie(
    client: TestClient, session: Session
) -> None:
    world = build_world(client, session)
    world.csrf = lambda role: None  # type: ignore[method-assign]
    browser = TestClient(client.app)
    for method, path in EXEMPT:
        entry = MATRIX[(method, path)]
        world.clients["fresh"] = browser
        answer = entry.send(world, "A", "fresh")
        assert 200 <= answer.status_code < 400, path
        for cookie in answer.headers.get_list("set-cookie"):
            assert cookie.startswith("trust_survey_resume="), (path, cookie)
            assert "samesite=lax" in cookie.lower() and "HttpOnly" in cookie, (path, cookie)
            assert "Path=/s/" in cookie, (path, cookie)
    assert set(browser.cookies) <= {"trust_survey_resume"}


def test_the_session_cookie_is_lax_and_http_only(client: TestClient) -> None:
    """Browsers do not send it on another site's POST, so the JSON API's cookie sign-in
    cannot be driven from another site either."""
    page = client.get("/sign-in")
    cookie = page.headers["set-cookie"].lower()
    assert "samesite=lax" in cookie and "httponly" in cookie
