"""Security headers on every kind of answer; HSTS only over HTTPS; nothing secret in logs."""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.services import invitations
from app.web.security_headers import CONTENT_SECURITY_POLICY
from tests.browser_support import start_live_server
from tests.conftest import SurveySetUp, full_answers, token_of


def _directives(policy: str) -> dict[str, str]:
    parts = [part.strip().split(" ", 1) for part in policy.split(";") if part.strip()]
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def _link(session: Session, setup: SurveySetUp) -> str:
    return invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )[0]


def _assert_secure(headers: httpx.Headers) -> None:
    policy = _directives(headers["content-security-policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in headers


def test_pages_api_errors_and_redirects_carry_the_headers(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    answers = [
        client.get("/healthz"),
        client.get(f"/s/{token}"),
        client.get("/s/no-such-link"),
        client.get(f"/api/v1/survey/{token}"),
        client.get("/api/v1/survey/no-such-link"),
        client.put(f"/api/v1/survey/{token}/draft", json={"answers": {"q10": 9}}),
        client.get("/coordinator", follow_redirects=False),
        client.get("/sign-in"),
        client.get("/openapi.json"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 404, 200, 404, 422, 303, 200, 200]
    for answer in answers:
        _assert_secure(answer.headers)


def test_hsts_only_when_the_request_came_over_https(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/healthz").headers
    proxied = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert proxied.headers["strict-transport-security"].startswith("max-age=31536000")
    chained = client.get("/healthz", headers={"X-Forwarded-Proto": "https, http"})
    assert "strict-transport-security" in chained.headers
    plain = client.get("/healthz", headers={"X-Forwarded-Proto": "http"})
    assert "strict-transport-security" not in plain.headers
    direct = client.get("https://testserver/healthz")
    assert "strict-transport-security" in direct.headers


def test_the_policy_allows_inline_svg_and_the_apps_own_assets_only() -> None:
    policy = _directives(CONTENT_SECURITY_POLICY)
    # Inline <svg> elements need no source; images and styles come from the app itself.
    assert policy["img-src"] == "'self' data:"
    assert policy["style-src"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert not any("http" in value for value in policy.values())


def test_api_docs_come_from_the_app_itself(client: TestClient) -> None:
    """Swagger UI is served by the app (npm's swagger-ui-dist), not a CDN: the page works
    where a proxy blocks CDNs, and its scripts are the site's own."""
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    policy = _directives(docs.headers["content-security-policy"])
    assert policy["script-src"] == "'self'"
    assert not any("http" in value for value in policy.values())
    assert policy["frame-ancestors"] == "'none'"
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert "<script>" not in docs.text


def test_no_answers_or_tokens_in_the_app_logs(
    client: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = _link(session, make_round())
    secret_text = "Zanzibar-Partnership-7319"
    caplog.set_level(logging.DEBUG)
    saved = client.put(
        f"/api/v1/survey/{token}/draft", json={"background": {"partnership_name": secret_text}}
    )
    assert saved.status_code == 200
    resume_code = saved.json()["resume_code"]
    code = {"X-Resume-Code": resume_code}
    url = f"/api/v1/survey/{token}/response"
    done = client.post(url, json={"answers": full_answers(2)}, headers=code)
    assert done.status_code == 201
    again = client.post(url, json={"answers": full_answers(2)}, headers=code)
    assert again.status_code == 409
    # The test's own HTTP client (httpx) logs its request lines; the server side must not.
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in server_records)
    assert token not in logged
    assert secret_text not in logged
    assert resume_code not in logged and resume_code.replace("-", "") not in logged


def test_the_real_server_prints_no_tokens_or_answers(tmp_path: Path) -> None:
    server = start_live_server(tmp_path)
    secret_text = "Quokka-Alliance-5521"
    token = token_of(server.respondent_link)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            saved = http.put(
                f"/api/v1/survey/{token}/draft",
                json={"background": {"partnership_name": secret_text}},
            )
            assert saved.status_code == 200, saved.text
            resume_code = saved.json()["resume_code"]
            done = http.post(
                f"/api/v1/survey/{token}/response",
                json={"answers": full_answers(3)},
                headers={"X-Resume-Code": resume_code},
            )
            assert done.status_code == 201, done.text
            used = http.post(f"/s/{token}/resume", data={"resume_code": resume_code})
            assert used.status_code == 409
            assert http.get("/s/not-a-real-token-xyz").status_code == 404
    finally:
        server.process.terminate()
        try:
            printed, _ = server.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            printed, _ = server.process.communicate()
    assert "Application startup complete" in printed  # the output was captured
    # start_live_server has read the demo's banner (which shows the demo link by design);
    # everything the server printed after it is here.
    assert token not in printed
    assert "not-a-real-token-xyz" not in printed
    assert secret_text not in printed
    assert resume_code not in printed and resume_code.replace("-", "") not in printed
