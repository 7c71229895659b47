"""Authorisation over every route, for every role, on partnership A's and B's resources.

The routes come from the app itself: a route with no entry in ``MATRIX`` (or an entry for a
route that is gone) fails the test.  Each entry names a policy, which gives the expected answer
for each role and resource:

* ``allowed``: 2xx, or 3xx that does not send the browser to sign in;
* ``sign in``: signed out, a page sends the browser to its sign-in page, the API answers 401;
* ``404``: a partnership that is not yours, or a thing your role must not know exists.

Beyond status codes: nothing an account scoped to partnership A is sent ever names partnership B
or its round.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.instruments import instrument_named
from app.web.assets import find_frontend
from app.web.site_files import find_swagger_ui
from tests.conftest import full_answers
from tests.test_authorisation_support import (
    NAMES,
    ROLES,
    ROUND_TITLES,
    World,
    app_routes,
    build_world,
)

ALLOWED, SIGN_IN, NOT_FOUND, REFUSED_LOGIN = "allowed", "sign in", "404", "401"
COORDINATING = {"coord_a": "A", "coord_b": "B"}
EVALUATING = {"eval_a": "A", "eval_b": "B"}
SCOPED_TO = {**COORDINATING, **EVALUATING}
OTHER = {"A": "B", "B": "A"}
ITEMS = instrument_named("trustworthy-collaboration").item_ids[:3]
RELIABILITY_QUERY = "?" + "&".join(f"item={item}" for item in ITEMS)


def public(_role: str, _which: str | None) -> str:
    return ALLOWED


def wrong_password(_role: str, _which: str | None) -> str:
    return REFUSED_LOGIN


def signing_out(_role: str, _which: str | None) -> str:
    """Anyone may sign out; the browser is sent to the sign-in page."""
    return SIGN_IN


def any_account(role: str, _which: str | None) -> str:
    """Every signed-in account (it lands where its roles lead); signed out, the sign-in page."""
    return SIGN_IN if role in ("anonymous", "respondent") else ALLOWED


def link_holder(_role: str, which: str | None) -> str:
    """A link works for whoever holds it (A: a real link); an unknown one (B) is not found."""
    return ALLOWED if which == "A" else NOT_FOUND


def coordinating(role: str, which: str | None) -> str:
    """Coordinators run their own partnerships, admins all; readers of reports get 404."""
    if role in ("anonymous", "respondent"):
        return SIGN_IN
    if role == "admin":
        return ALLOWED
    if role in COORDINATING:
        return ALLOWED if which is None or COORDINATING[role] == which else NOT_FOUND
    return NOT_FOUND  # evaluators and analysts: one sign-in, but no coordinator screens


def reading(role: str, which: str | None) -> str:
    """Evaluators read their own partnerships, analysts and admins all; coordinators 404."""
    if role in ("anonymous", "respondent"):
        return SIGN_IN
    if role in ("analyst", "admin"):
        return ALLOWED
    if role in EVALUATING:
        return ALLOWED if which is None or EVALUATING[role] == which else NOT_FOUND
    return NOT_FOUND


def reports_index(role: str, which: str | None) -> str:
    """The reports list: a coordinator is sent to the reports sign-in."""
    return SIGN_IN if role in COORDINATING else reading(role, which)


def analysing(role: str, _which: str | None) -> str:
    if role in ("anonymous", "respondent"):
        return SIGN_IN
    return ALLOWED if role in ("analyst", "admin") else NOT_FOUND


def account_holder(role: str, _which: str | None) -> str:
    """An account's own page (its API tokens): every signed-in account has one."""
    return SIGN_IN if role in ("anonymous", "respondent") else ALLOWED


def own_account_form(role: str, which: str | None) -> str:
    """A form of the account's own pages posted empty: the page again with its problems."""
    return "422" if account_holder(role, which) == ALLOWED else SIGN_IN


def pending_sign_in(_role: str, _which: str | None) -> str:
    """The second step of signing in: without a pending sign-in (a right password), back to
    the sign-in page, whoever is signed in."""
    return SIGN_IN


def admin_only(role: str, _which: str | None) -> str:
    """Admins' pages outside the coordinator's area: 404 for every other account."""
    if role in ("anonymous", "respondent"):
        return SIGN_IN
    return ALLOWED if role == "admin" else NOT_FOUND


Policy = Callable[[str, str | None], str]
Request = Callable[[World, str | None, str], httpx.Response]


@dataclass(frozen=True)
class Entry:
    policy: Policy
    send: Request
    scoped: bool = True  # tried on A's and on B's resources; else once


def _dates() -> dict[str, str]:
    return {
        "opens_on": date.today().isoformat(),
        "closes_on": (date.today() + timedelta(days=20)).isoformat(),
    }


def get(path: str) -> Request:
    """GET ``path``, with ``{p}`` the partnership, ``{r}`` the round, ``{t}`` a fresh link."""

    def send(world: World, which: str | None, role: str) -> httpx.Response:
        return world.clients[role].get(_fill(world, path, which), follow_redirects=False)

    return send


def post(path: str, body: Callable[[World], dict[str, object]] | None = None) -> Request:
    """POST a form (with the client's own CSRF token) or, under /api, JSON."""

    def send(world: World, which: str | None, role: str) -> httpx.Response:
        client = world.clients[role]
        url = _fill(world, path, which)
        given = body(world) if body else {}
        if url.startswith("/api/"):
            return client.post(
                url, json=given or None, headers=world.origin(role), follow_redirects=False
            )
        form = dict(given)
        token = world.csrf(role)
        if token is not None:
            form["csrf_token"] = token
        return client.post(url, data=form, follow_redirects=False)

    return send


def put(path: str, body: Callable[[World], dict[str, object]]) -> Request:
    def send(world: World, which: str | None, role: str) -> httpx.Response:
        url = _fill(world, path, which)
        headers = world.origin(role)
        return world.clients[role].put(
            url, json=body(world), headers=headers, follow_redirects=False
        )

    return send


def delete(path: str, body: Callable[[World], dict[str, object]]) -> Request:
    """DELETE under /api with a JSON body (a deletion's typed confirmation)."""

    def send(world: World, which: str | None, role: str) -> httpx.Response:
        url = _fill(world, path, which)
        return world.clients[role].request(
            "DELETE", url, json=body(world), headers=world.origin(role), follow_redirects=False
        )

    return send


def api_organisation(
    method: str, suffix: str, body: Callable[[World], dict[str, object]] | None = None
) -> Request:
    """``method`` on a fresh organisation of the partnership under /api (``suffix`` after its
    id), with a JSON body."""

    def send(world: World, which: str | None, role: str) -> httpx.Response:
        path = _fill(world, "/api/v1/partnerships/{p}/organisations/", which)
        url = f"{path}{_fresh_organisation(world, which)}{suffix}"
        return world.clients[role].request(
            method,
            url,
            json=body(world) if body else None,
            headers=world.origin(role),
            follow_redirects=False,
        )

    return send


def _fill(world: World, path: str, which: str | None) -> str:
    if which is None:
        return path
    if "{t}" in path:
        token = world.fresh_token(which) if which == "A" else "no-such-link-token-at-all"
        path = path.replace("{t}", token)
    if "{o}" in path:
        token = world.fresh_opt_out(which) if which == "A" else "no-such-opt-out-token"
        path = path.replace("{o}", token)
    if "{fresh}" in path:
        path = path.replace("{fresh}", world.spell(world.fresh_round(which)))
    return path.replace("{p}", world.spell(world.partnership_ids[which])).replace(
        "{r}", world.spell(world.round_ids[which])
    )


def _named(prefix: str) -> Callable[[World], dict[str, object]]:
    return lambda world: {"name": f"{prefix} {world.number()}"}


def _css() -> str:
    frontend = find_frontend()
    return frontend.css_url or "/assets/nhsuk-frontend.min.css"


def _asset(world: World, _which: str | None, role: str) -> httpx.Response:
    return world.clients[role].get(_css())


def _assets_policy(_role: str, _which: str | None) -> str:
    return ALLOWED if find_frontend().available else NOT_FOUND


def refused_input(code: str) -> Policy:
    """Coordinating, but the form is filled in wrongly on purpose (so the shared world is not
    changed): those allowed get ``code`` (the page again with its problems, or a refusal)."""

    def policy(role: str, which: str | None) -> str:
        outcome = coordinating(role, which)
        return code if outcome == ALLOWED else outcome

    return policy


def administering(role: str, _which: str | None) -> str:
    """The admin's pages: admins only; other accounts get 404; signed out, sign in."""
    if role == "admin":
        return ALLOWED
    if role in ("anonymous", "respondent"):
        return SIGN_IN
    return NOT_FOUND


def _fresh_organisation(world: World, which: str | None) -> int:
    assert which is not None
    return world.fresh_organisation(which)


def organisation_get(suffix: str) -> Request:
    def send(world: World, which: str | None, role: str) -> httpx.Response:
        path = _fill(world, "/coordinator/partnerships/{p}/organisations/", which)
        url = f"{path}{_fresh_organisation(world, which)}/{suffix}"
        return world.clients[role].get(url, follow_redirects=False)

    return send


def organisation_post(suffix: str, body: dict[str, object]) -> Request:
    def send(world: World, which: str | None, role: str) -> httpx.Response:
        path = _fill(world, "/coordinator/partnerships/{p}/organisations/", which)
        url = f"{path}{_fresh_organisation(world, which)}/{suffix}"
        form = dict(body)
        token = world.csrf(role)
        if token is not None:
            form["csrf_token"] = token
        return world.clients[role].post(url, data=form, follow_redirects=False)

    return send


def instrument_upload(world: World, _which: str | None, role: str) -> httpx.Response:
    form: dict[str, object] = {}
    token = world.csrf(role)
    if token is not None:
        form["csrf_token"] = token
    files = {"document": ("bad.yaml", b"id: [unclosed\n", "text/yaml")}
    return world.clients[role].post(
        "/admin/instruments", data=form, files=files, follow_redirects=False
    )


BAD_DATE = {"closes_on-day": "31", "closes_on-month": "2", "closes_on-year": "2030"}


def _revoke_own_token(world: World, _which: str | None, role: str) -> httpx.Response:
    """Make a token on the account's page, then revoke it (another account's token is
    "not found": tests/test_api_tokens.py); signed out, there is no page to make one on."""
    client = world.clients[role]
    token = world.csrf(role)
    made = client.post("/account/tokens", data={"name": "to revoke", "csrf_token": token or ""})
    found = re.findall(r'action="/account/tokens/(\d+)/revoke"', made.text)
    number = found[0] if found else "999999"
    return client.post(
        f"/account/tokens/{number}/revoke",
        data={"csrf_token": token or ""},
        follow_redirects=False,
    )


def _add_participant(world: World, which: str | None, role: str) -> httpx.Response:
    """Type one address of the round's own organisation into the participants form."""
    line = f"typed{world.number()}@example.org, {which} Hospital"
    return post("/coordinator/rounds/{r}/participants", lambda w: {"participants": line})(
        world, which, role
    )


def _api_participant(world: World, which: str | None, role: str) -> httpx.Response:
    """Add one address of the round's own organisation through the API."""
    entry = {"email": f"api{world.number()}@example.org", "organisation": f"{which} Hospital"}
    return post("/api/v1/rounds/{r}/participants", lambda w: {"participants": [entry]})(
        world, which, role
    )


def _mailing_preview(_world: World) -> dict[str, object]:
    from app.services import participants

    return {
        "invitation_subject": participants.DEFAULT_INVITATION_SUBJECT,
        "invitation_text": participants.DEFAULT_INVITATION_TEXT,
        "reminder_subject": participants.DEFAULT_REMINDER_SUBJECT,
        "reminder_text": participants.DEFAULT_REMINDER_TEXT,
        "reminder_dates": "",
        "action": "preview",
    }


def auditing(role: str, _which: str | None) -> str:
    """The audit trail: admins only; any other account gets 404 (it does not exist for them);
    signed out, the sign-in page (the API: 401)."""
    if role in ("anonymous", "respondent"):
        return SIGN_IN
    return ALLOWED if role == "admin" else NOT_FOUND


def _fresh_account(world: World) -> tuple[int, str]:
    """A new coordinator with no partnership that no client is signed in as: its id and
    address (for the admins' account pages)."""
    from app.services import accounts

    email = f"target{world.number()}@example.org"
    made = accounts.add_account(world.session, email, None, "coordinator")
    assert made.id is not None
    return made.id, email


def _form(world: World, role: str, body: dict[str, object]) -> dict[str, object]:
    token = world.csrf(role)
    return {**body, "csrf_token": token} if token is not None else dict(body)


def account_get(suffix: str = "") -> Request:
    def send(world: World, _which: str | None, role: str) -> httpx.Response:
        number, _ = _fresh_account(world)
        return world.clients[role].get(f"/admin/accounts/{number}{suffix}", follow_redirects=False)

    return send


def account_post(
    suffix: str, body: Callable[[World, str], dict[str, object]] | None = None
) -> Request:
    """POST to ``/admin/accounts/{a fresh account}{suffix}``; ``body`` gets the address."""

    def send(world: World, _which: str | None, role: str) -> httpx.Response:
        number, email = _fresh_account(world)
        given = body(world, email) if body else {}
        return world.clients[role].post(
            f"/admin/accounts/{number}{suffix}",
            data=_form(world, role, given),
            follow_redirects=False,
        )

    return send


def _remove_access(world: World, which: str | None, role: str) -> httpx.Response:
    """Remove the grant of the partnership's spare evaluator (made with the world)."""
    assert which is not None
    number = world.member_ids[which]
    path = _fill(world, "/coordinator/partnerships/{p}/access/", which)
    return world.clients[role].post(
        f"{path}{number}/remove", data=_form(world, role, {}), follow_redirects=False
    )


def _account_link(world: World, which: str | None, role: str, method: str) -> httpx.Response:
    """A set-your-password link: a fresh one (A) or an unknown one (B); the POST leaves the
    password empty, so the link stays unused (422, the page again)."""
    from app.models import AccountLinkPurpose
    from app.services import account_links, accounts

    token = "no-such-account-link-token"
    if which == "A":
        account = accounts.coordinator_by_email(world.session, "link.holder@example.org")
        if account is None:
            account = accounts.add_account(world.session, "link.holder@example.org", None)
        token = account_links.new_link(world.session, account, AccountLinkPurpose.INVITATION)
        world.session.commit()
    client = world.clients[role]
    if method == "GET":
        return client.get(f"/account/set-password/{token}", follow_redirects=False)
    return client.post(
        f"/account/set-password/{token}",
        data=_form(world, role, {"password": ""}),
        follow_redirects=False,
    )


def forgot_sent(_role: str, _which: str | None) -> str:
    """Anyone may ask for a new-password link; the answer, the same for every address, is the
    "check your e-mail" page at /sign-in/forgot?sent=1 (counted as the sign-in pages)."""
    return SIGN_IN


def link_form(role: str, which: str | None) -> str:
    """A set-your-password link's form: shown again with its problem (422) for a working
    link, whoever holds it; an unknown link is not found."""
    return "422" if which == "A" else NOT_FOUND


PARTNERSHIP = {"kind": "urgent-and-emergency-care"}
ORGANISATION = {"kind": "acute-trust"}
LOGIN = {"email": "nobody@example.org", "password": "not the password"}

MATRIX: dict[tuple[str, str], Entry] = {
    # Public
    ("GET", "/openapi.json"): Entry(public, get("/openapi.json"), scoped=False),
    ("GET", "/api/docs"): Entry(public, get("/api/docs"), scoped=False),
    ("GET", "/api/docs/{versioned}/{name}"): Entry(
        public,
        get(f"/api/docs/swagger-ui-{find_swagger_ui().version}/swagger-ui.css"),
        scoped=False,
    ),
    ("GET", "/favicon.ico"): Entry(_assets_policy, get("/favicon.ico"), scoped=False),
    ("GET", "/robots.txt"): Entry(public, get("/robots.txt"), scoped=False),
    ("GET", "/privacy"): Entry(public, get("/privacy"), scoped=False),
    ("GET", "/assets/{path:path}"): Entry(_assets_policy, _asset, scoped=False),
    ("GET", "/static/{path:path}"): Entry(public, get("/static/survey.css"), scoped=False),
    ("GET", "/healthz"): Entry(public, get("/healthz"), scoped=False),
    ("GET", "/"): Entry(any_account, get("/"), scoped=False),
    ("GET", "/sign-in"): Entry(public, get("/sign-in"), scoped=False),
    ("POST", "/sign-in"): Entry(wrong_password, post("/sign-in", lambda w: LOGIN), scoped=False),
    # The sign-in pages of earlier versions: a permanent redirect to /sign-in, for everyone
    ("GET", "/coordinator/login"): Entry(public, get("/coordinator/login"), scoped=False),
    ("GET", "/reports/login"): Entry(public, get("/reports/login"), scoped=False),
    # Respondents: the link is the key
    ("GET", "/s/{token}"): Entry(link_holder, get("/s/{t}")),
    ("POST", "/s/{token}/start"): Entry(link_holder, post("/s/{t}/start")),
    ("GET", "/s/{token}/sections/{section_id}"): Entry(
        link_holder, get("/s/{t}/sections/about-you")
    ),
    ("POST", "/s/{token}/sections/{section_id}"): Entry(
        link_holder,
        post("/s/{t}/sections/about-you", lambda w: {"action": "save-for-later"}),
    ),
    ("POST", "/s/{token}/resume"): Entry(
        link_holder, post("/s/{t}/resume", lambda w: {"resume_code": "NOT-A-CODE"})
    ),
    ("GET", "/s/{token}/saved"): Entry(link_holder, get("/s/{t}/saved")),
    ("GET", "/s/{token}/check"): Entry(link_holder, get("/s/{t}/check")),
    ("POST", "/s/{token}/submit"): Entry(link_holder, post("/s/{t}/submit")),
    ("GET", "/s/{token}/thank-you"): Entry(link_holder, get("/s/{t}/thank-you")),
    ("GET", "/api/v1/survey/{token}"): Entry(link_holder, get("/api/v1/survey/{t}")),
    ("PUT", "/api/v1/survey/{token}/draft"): Entry(
        link_holder, put("/api/v1/survey/{t}/draft", lambda w: {"answers": {ITEMS[0]: 3}})
    ),
    ("POST", "/api/v1/survey/{token}/response"): Entry(
        link_holder, post("/api/v1/survey/{t}/response", lambda w: {"answers": full_answers()})
    ),
    # Every account: its own API tokens
    ("GET", "/account/tokens"): Entry(account_holder, get("/account/tokens"), scoped=False),
    ("POST", "/account/tokens"): Entry(
        account_holder, post("/account/tokens", _named("Token")), scoped=False
    ),
    ("POST", "/account/tokens/{token_id}/revoke"): Entry(
        account_holder, _revoke_own_token, scoped=False
    ),
    # Every account: its own page, password and second factor
    ("GET", "/account"): Entry(account_holder, get("/account"), scoped=False),
    ("GET", "/account/password"): Entry(account_holder, get("/account/password"), False),
    ("POST", "/account/password"): Entry(own_account_form, post("/account/password"), False),
    ("GET", "/account/second-factor"): Entry(
        account_holder, get("/account/second-factor"), scoped=False
    ),
    ("POST", "/account/second-factor"): Entry(
        own_account_form, post("/account/second-factor"), scoped=False
    ),
    ("POST", "/account/second-factor/off"): Entry(  # none set up: back to set it up
        account_holder, post("/account/second-factor/off"), scoped=False
    ),
    # The second step of signing in (a pending sign-in only)
    ("GET", "/sign-in/code"): Entry(pending_sign_in, get("/sign-in/code"), scoped=False),
    ("POST", "/sign-in/code"): Entry(
        pending_sign_in, post("/sign-in/code", lambda w: {"code": "123456"}), scoped=False
    ),
    ("GET", "/sign-in/second-factor"): Entry(
        pending_sign_in, get("/sign-in/second-factor"), scoped=False
    ),
    ("POST", "/sign-in/second-factor"): Entry(
        pending_sign_in, post("/sign-in/second-factor"), scoped=False
    ),
    # Admins: the second-factor policy (posted empty: nothing required, as before)
    ("GET", "/admin/security"): Entry(admin_only, get("/admin/security"), scoped=False),
    ("POST", "/admin/security"): Entry(admin_only, post("/admin/security"), scoped=False),
    # Coordinating: pages
    ("GET", "/coordinator"): Entry(coordinating, get("/coordinator"), scoped=False),
    ("POST", "/coordinator/partnerships"): Entry(
        coordinating,
        post("/coordinator/partnerships", lambda w: {**_named("New")(w), **PARTNERSHIP}),
        scoped=False,
    ),
    ("GET", "/coordinator/partnerships/{partnership_id}"): Entry(
        coordinating, get("/coordinator/partnerships/{p}")
    ),
    ("POST", "/coordinator/partnerships/{partnership_id}/organisations"): Entry(
        coordinating,
        post(
            "/coordinator/partnerships/{p}/organisations",
            lambda w: {**_named("Org")(w), **ORGANISATION},
        ),
    ),
    ("POST", "/coordinator/partnerships/{partnership_id}/rounds"): Entry(
        coordinating,
        post(
            "/coordinator/partnerships/{p}/rounds",
            lambda w: {"title": "Autumn", "anonymity_threshold": 5, **_dates()},
        ),
    ),
    ("GET", "/coordinator/rounds/{round_id}"): Entry(coordinating, get("/coordinator/rounds/{r}")),
    ("POST", "/coordinator/rounds/{round_id}/links"): Entry(
        coordinating, post("/coordinator/rounds/{r}/links", lambda w: {"count": 1})
    ),
    ("POST", "/coordinator/rounds/{round_id}/open-link"): Entry(
        coordinating, post("/coordinator/rounds/{fresh}/open-link")
    ),
    ("POST", "/coordinator/rounds/{round_id}/close"): Entry(
        coordinating, post("/coordinator/rounds/{fresh}/close")
    ),
    ("GET", "/coordinator/rounds/{round_id}/close"): Entry(
        coordinating, get("/coordinator/rounds/{r}/close")
    ),
    ("POST", "/coordinator/rounds/{round_id}/open-now"): Entry(
        refused_input("400"),
        post("/coordinator/rounds/{fresh}/open-now"),  # already open
    ),
    ("GET", "/coordinator/rounds/{round_id}/closing-date"): Entry(
        coordinating, get("/coordinator/rounds/{r}/closing-date")
    ),
    ("POST", "/coordinator/rounds/{round_id}/closing-date"): Entry(
        refused_input("422"), post("/coordinator/rounds/{r}/closing-date", lambda w: BAD_DATE)
    ),
    ("GET", "/coordinator/rounds/{round_id}/reopen"): Entry(
        coordinating, get("/coordinator/rounds/{r}/reopen")
    ),
    ("POST", "/coordinator/rounds/{round_id}/reopen"): Entry(
        refused_input("422"), post("/coordinator/rounds/{r}/reopen", lambda w: BAD_DATE)
    ),
    ("GET", "/coordinator/rounds/{round_id}/open-link/replace"): Entry(
        coordinating, get("/coordinator/rounds/{r}/open-link/replace")
    ),
    ("GET", "/coordinator/rounds/{round_id}/rename"): Entry(
        coordinating, get("/coordinator/rounds/{r}/rename")
    ),
    ("POST", "/coordinator/rounds/{round_id}/rename"): Entry(
        refused_input("422"), post("/coordinator/rounds/{r}/rename", lambda w: {"title": " "})
    ),
    ("GET", "/coordinator/rounds/{round_id}/delete"): Entry(
        coordinating, get("/coordinator/rounds/{r}/delete")
    ),
    ("POST", "/coordinator/rounds/{round_id}/delete"): Entry(
        refused_input("422"),
        post("/coordinator/rounds/{r}/delete", lambda w: {"confirm_name": "not it"}),
    ),
    ("GET", "/coordinator/rounds/{round_id}/preview"): Entry(
        coordinating, get("/coordinator/rounds/{r}/preview")
    ),
    ("GET", "/coordinator/partnerships/{partnership_id}/rename"): Entry(
        coordinating, get("/coordinator/partnerships/{p}/rename")
    ),
    ("POST", "/coordinator/partnerships/{partnership_id}/rename"): Entry(
        refused_input("422"),
        post("/coordinator/partnerships/{p}/rename", lambda w: {"name": " "}),
    ),
    ("GET", "/coordinator/partnerships/{partnership_id}/delete"): Entry(
        coordinating, get("/coordinator/partnerships/{p}/delete")
    ),
    ("POST", "/coordinator/partnerships/{partnership_id}/delete"): Entry(
        refused_input("422"),
        post("/coordinator/partnerships/{p}/delete", lambda w: {"confirm_name": "not it"}),
    ),
    (
        "GET",
        "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/rename",
    ): Entry(coordinating, organisation_get("rename")),
    (
        "POST",
        "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/rename",
    ): Entry(coordinating, organisation_post("rename", {"name": "Renamed"})),
    (
        "GET",
        "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/remove",
    ): Entry(coordinating, organisation_get("remove")),
    (
        "POST",
        "/coordinator/partnerships/{partnership_id}/organisations/{organisation_id}/remove",
    ): Entry(coordinating, organisation_post("remove", {})),
    ("GET", "/admin/instruments"): Entry(administering, get("/admin/instruments"), False),
    ("POST", "/admin/instruments"): Entry(
        lambda role, which: "422" if role == "admin" else administering(role, which),
        instrument_upload,
        scoped=False,
    ),
    # The audit trail: admins only
    ("GET", "/admin/audit"): Entry(auditing, get("/admin/audit"), scoped=False),
    ("GET", "/admin/audit.csv"): Entry(auditing, get("/admin/audit.csv"), scoped=False),
    ("GET", "/api/v1/admin/audit"): Entry(auditing, get("/api/v1/admin/audit"), scoped=False),
    # Coordinating: participants and their e-mails
    ("GET", "/coordinator/rounds/{round_id}/participants"): Entry(
        coordinating, get("/coordinator/rounds/{r}/participants")
    ),
    ("POST", "/coordinator/rounds/{round_id}/participants"): Entry(coordinating, _add_participant),
    ("POST", "/coordinator/rounds/{round_id}/participants/remove"): Entry(
        refused_input("422"),
        post(
            "/coordinator/rounds/{r}/participants/remove",
            lambda w: {"email": "not-a-participant@example.org"},
        ),
    ),
    ("POST", "/coordinator/rounds/{round_id}/invitations"): Entry(
        coordinating, post("/coordinator/rounds/{r}/invitations")
    ),
    ("GET", "/coordinator/rounds/{round_id}/mailing"): Entry(
        coordinating, get("/coordinator/rounds/{r}/mailing")
    ),
    ("POST", "/coordinator/rounds/{round_id}/mailing"): Entry(
        coordinating, post("/coordinator/rounds/{r}/mailing", _mailing_preview)
    ),
    ("GET", "/api/v1/rounds/{round_id}/participants"): Entry(
        coordinating, get("/api/v1/rounds/{r}/participants")
    ),
    ("POST", "/api/v1/rounds/{round_id}/participants"): Entry(coordinating, _api_participant),
    ("POST", "/api/v1/rounds/{round_id}/invitations"): Entry(
        coordinating, post("/api/v1/rounds/{r}/invitations")
    ),
    # Participants: the opt-out link is the key
    ("GET", "/mail/opt-out/{token}"): Entry(link_holder, get("/mail/opt-out/{o}")),
    ("POST", "/mail/opt-out/{token}"): Entry(link_holder, post("/mail/opt-out/{o}")),
    # Coordinating: API
    ("GET", "/api/v1/partnerships"): Entry(coordinating, get("/api/v1/partnerships"), False),
    ("POST", "/api/v1/partnerships"): Entry(
        coordinating,
        post("/api/v1/partnerships", lambda w: {**_named("Api")(w), **PARTNERSHIP}),
        scoped=False,
    ),
    ("GET", "/api/v1/partnerships/{partnership_id}"): Entry(
        coordinating, get("/api/v1/partnerships/{p}")
    ),
    ("GET", "/api/v1/partnerships/{partnership_id}/organisations"): Entry(
        coordinating, get("/api/v1/partnerships/{p}/organisations")
    ),
    ("POST", "/api/v1/partnerships/{partnership_id}/organisations"): Entry(
        coordinating,
        post(
            "/api/v1/partnerships/{p}/organisations",
            lambda w: {**_named("Api org")(w), **ORGANISATION},
        ),
    ),
    ("GET", "/api/v1/partnerships/{partnership_id}/rounds"): Entry(
        coordinating, get("/api/v1/partnerships/{p}/rounds")
    ),
    ("POST", "/api/v1/partnerships/{partnership_id}/rounds"): Entry(
        coordinating, post("/api/v1/partnerships/{p}/rounds", lambda w: {"title": "W", **_dates()})
    ),
    ("GET", "/api/v1/rounds/{round_id}"): Entry(coordinating, get("/api/v1/rounds/{r}")),
    ("POST", "/api/v1/rounds/{round_id}/close"): Entry(
        coordinating, post("/api/v1/rounds/{fresh}/close")
    ),
    ("POST", "/api/v1/rounds/{round_id}/links"): Entry(
        coordinating, post("/api/v1/rounds/{r}/links", lambda w: {"count": 1})
    ),
    ("POST", "/api/v1/rounds/{round_id}/open-link"): Entry(
        coordinating, post("/api/v1/rounds/{fresh}/open-link")
    ),
    ("GET", "/api/v1/rounds/{round_id}/progress"): Entry(
        coordinating, get("/api/v1/rounds/{r}/progress")
    ),
    ("GET", "/api/v1/instruments"): Entry(coordinating, get("/api/v1/instruments"), False),
    ("PUT", "/api/v1/partnerships/{partnership_id}/name"): Entry(
        refused_input("422"), put("/api/v1/partnerships/{p}/name", lambda w: {"name": " "})
    ),
    ("DELETE", "/api/v1/partnerships/{partnership_id}"): Entry(
        refused_input("422"),
        delete("/api/v1/partnerships/{p}", lambda w: {"confirm_name": "not it"}),
    ),
    ("PUT", "/api/v1/partnerships/{partnership_id}/organisations/{organisation_id}/name"): Entry(
        coordinating, api_organisation("PUT", "/name", _named("Renamed"))
    ),
    ("DELETE", "/api/v1/partnerships/{partnership_id}/organisations/{organisation_id}"): Entry(
        coordinating, api_organisation("DELETE", "")
    ),
    ("POST", "/api/v1/rounds/{round_id}/open-now"): Entry(
        refused_input("400"),
        post("/api/v1/rounds/{fresh}/open-now"),  # already open
    ),
    ("PUT", "/api/v1/rounds/{round_id}/closing-date"): Entry(
        coordinating,
        put("/api/v1/rounds/{fresh}/closing-date", lambda w: {"closes_on": _dates()["closes_on"]}),
    ),
    ("POST", "/api/v1/rounds/{round_id}/reopen"): Entry(
        refused_input("400"),  # not closed
        post("/api/v1/rounds/{fresh}/reopen", lambda w: {"closes_on": _dates()["closes_on"]}),
    ),
    ("PUT", "/api/v1/rounds/{round_id}/title"): Entry(
        coordinating, put("/api/v1/rounds/{fresh}/title", lambda w: {"title": "Renamed"})
    ),
    ("DELETE", "/api/v1/rounds/{round_id}"): Entry(
        refused_input("422"), delete("/api/v1/rounds/{r}", lambda w: {"confirm_name": "not it"})
    ),
    ("GET", "/api/v1/rounds/{round_id}/open-link"): Entry(
        coordinating, get("/api/v1/rounds/{r}/open-link")
    ),
    ("PUT", "/api/v1/rounds/{round_id}/anonymity-threshold"): Entry(
        coordinating,
        put("/api/v1/rounds/{fresh}/anonymity-threshold", lambda w: {"anonymity_threshold": 6}),
    ),
    ("PUT", "/api/v1/rounds/{round_id}/release-policy"): Entry(
        coordinating,
        put("/api/v1/rounds/{fresh}/release-policy", lambda w: {"release_policy": "interim"}),
    ),
    # Reading reports
    ("GET", "/reports"): Entry(reports_index, get("/reports"), scoped=False),
    ("GET", "/reports/rounds/{round_id}"): Entry(reading, get("/reports/rounds/{r}")),
    ("GET", "/reports/rounds/{round_id}/{file_name}"): Entry(
        reading, get("/reports/rounds/{r}/answers.csv")
    ),
    ("GET", "/api/v1/reports/rounds"): Entry(reading, get("/api/v1/reports/rounds"), False),
    ("GET", "/api/v1/reports/rounds/{round_id}"): Entry(reading, get("/api/v1/reports/rounds/{r}")),
    ("GET", "/api/v1/reports/rounds/{round_id}/answers"): Entry(
        reading, get("/api/v1/reports/rounds/{r}/answers")
    ),
    ("GET", "/api/v1/reports/rounds/{round_id}/scores"): Entry(
        reading, get("/api/v1/reports/rounds/{r}/scores")
    ),
    # Analysts
    ("GET", "/analyst"): Entry(analysing, get("/analyst"), scoped=False),
    ("GET", "/analyst/reliability"): Entry(
        analysing, get("/analyst/reliability" + RELIABILITY_QUERY), scoped=False
    ),
    ("GET", "/api/v1/analyst/pooled"): Entry(analysing, get("/api/v1/analyst/pooled"), False),
    ("GET", "/api/v1/analyst/reliability"): Entry(
        analysing, get("/api/v1/analyst/reliability" + RELIABILITY_QUERY), scoped=False
    ),
    ("GET", "/analyst/omega"): Entry(
        analysing, get("/analyst/omega" + RELIABILITY_QUERY + "&bootstrap=20"), scoped=False
    ),
    ("GET", "/analyst/factor"): Entry(
        analysing, get("/analyst/factor" + RELIABILITY_QUERY), scoped=False
    ),
    ("GET", "/analyst/agreement"): Entry(analysing, get("/analyst/agreement"), scoped=False),
    ("GET", "/api/v1/analyst/omega"): Entry(
        analysing, get("/api/v1/analyst/omega" + RELIABILITY_QUERY + "&bootstrap=20"), False
    ),
    ("GET", "/api/v1/analyst/factor"): Entry(
        analysing, get("/api/v1/analyst/factor" + RELIABILITY_QUERY), scoped=False
    ),
    ("GET", "/api/v1/analyst/agreement"): Entry(
        analysing, get("/api/v1/analyst/agreement"), scoped=False
    ),
    # Set-your-password links and "forgot password": public, the link is the key
    ("GET", "/sign-in/forgot"): Entry(public, get("/sign-in/forgot"), scoped=False),
    ("POST", "/sign-in/forgot"): Entry(
        forgot_sent,
        post("/sign-in/forgot", lambda w: {"email": "nobody@example.org"}),
        scoped=False,
    ),
    ("GET", "/account/set-password/{token}"): Entry(
        link_holder, lambda w, which, role: _account_link(w, which, role, "GET")
    ),
    ("POST", "/account/set-password/{token}"): Entry(
        link_form, lambda w, which, role: _account_link(w, which, role, "POST")
    ),
    # Admins: accounts
    ("GET", "/admin/accounts"): Entry(administering, get("/admin/accounts"), scoped=False),
    ("GET", "/admin/accounts/invite"): Entry(
        administering, get("/admin/accounts/invite"), scoped=False
    ),
    ("POST", "/admin/accounts/invite"): Entry(
        administering,
        post(
            "/admin/accounts/invite",
            lambda w: {"email": f"invited{w.number()}@example.org", "roles": "analyst"},
        ),
        scoped=False,
    ),
    ("GET", "/admin/accounts/{account_id}"): Entry(administering, account_get(), scoped=False),
    ("POST", "/admin/accounts/{account_id}/roles"): Entry(
        administering, account_post("/roles", lambda w, e: {"roles": "analyst"}), scoped=False
    ),
    ("POST", "/admin/accounts/{account_id}/grants"): Entry(
        administering,
        account_post("/grants", lambda w, e: {"partnership": w.partnership_ids["A"]}),
        scoped=False,
    ),
    ("POST", "/admin/accounts/{account_id}/grants/remove"): Entry(
        administering,
        account_post("/grants/remove", lambda w, e: {"partnership": w.partnership_ids["A"]}),
        scoped=False,
    ),
    ("POST", "/admin/accounts/{account_id}/disable"): Entry(
        administering, account_post("/disable"), scoped=False
    ),
    ("POST", "/admin/accounts/{account_id}/enable"): Entry(
        administering, account_post("/enable"), scoped=False
    ),
    ("POST", "/admin/accounts/{account_id}/reset-password"): Entry(
        administering, account_post("/reset-password"), scoped=False
    ),
    ("GET", "/admin/accounts/{account_id}/remove"): Entry(
        administering, account_get("/remove"), scoped=False
    ),
    ("POST", "/admin/accounts/{account_id}/remove"): Entry(
        administering,
        account_post("/remove", lambda w, e: {"confirm_email": e}),
        scoped=False,
    ),
    # Coordinating: who can see a partnership
    ("GET", "/coordinator/partnerships/{partnership_id}/access"): Entry(
        coordinating, get("/coordinator/partnerships/{p}/access")
    ),
    ("POST", "/coordinator/partnerships/{partnership_id}/access"): Entry(
        coordinating,
        post(
            "/coordinator/partnerships/{p}/access",
            lambda w: {"email": f"asked{w.number()}@example.org", "role": "evaluator"},
        ),
    ),
    ("POST", "/coordinator/partnerships/{partnership_id}/access/{account_id}/remove"): Entry(
        coordinating, _remove_access
    ),
    # Signing out (tried last: it ends the session)
    ("POST", "/sign-out"): Entry(signing_out, post("/sign-out"), scoped=False),
}
SIGN_OUT = {("POST", "/sign-out")}


def test_every_route_has_a_matrix_entry(client: TestClient) -> None:
    routes = set(app_routes(client.app))  # type: ignore[arg-type]
    assert routes - set(MATRIX) == set(), "routes with no authorisation matrix entry"
    assert set(MATRIX) - routes == set(), "matrix entries for routes that are gone"


def _outcome(answer: httpx.Response, path: str) -> str:
    code = answer.status_code
    location = answer.headers.get("location", "")
    if code in (302, 303, 307) and location.startswith("/sign-in"):
        return SIGN_IN
    if code == 401 and path.startswith("/api/"):
        return SIGN_IN
    if 200 <= code < 400:
        return ALLOWED
    return str(code)


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix(client: TestClient, session: Session, role: str) -> None:
    world = build_world(client, session)
    problems: list[str] = []
    leaks: list[str] = []
    ordered = sorted(MATRIX.items(), key=lambda pair: pair[0] in SIGN_OUT)
    for (method, path), entry in ordered:
        for which in ("A", "B") if entry.scoped else (None,):
            expected = entry.policy(role, which)
            answer = entry.send(world, which, role)
            got = _outcome(answer, path)
            if got != expected:
                problems.append(
                    f"{role} {method} {path} on {which or '-'}: expected {expected}, got "
                    f"{answer.status_code} {answer.headers.get('location', '')}"
                )
            assert answer.status_code < 500, f"{method} {path}: {answer.text[:300]}"
            if role in SCOPED_TO and entry.policy is not link_holder:  # a link is a bearer key
                other = OTHER[SCOPED_TO[role]]
                body = answer.text
                if NAMES[other] in body or ROUND_TITLES[other] in body:
                    leaks.append(f"{role} {method} {path} on {which or '-'} names {other}")
    assert problems + leaks == [], "\n".join(problems + leaks)


def test_a_coordinator_who_creates_a_partnership_runs_it_and_sees_only_their_own(
    client: TestClient, session: Session
) -> None:
    world = build_world(client, session)
    coordinator = world.clients["coord_a"]
    made = coordinator.post(
        "/api/v1/partnerships",
        json={"name": "Cedar Fields Partnership", **PARTNERSHIP},
        headers=world.origin("coord_a"),
    )
    assert made.status_code == 201
    created = made.json()["id"]
    listed = {p["name"] for p in coordinator.get("/api/v1/partnerships").json()}
    assert listed == {NAMES["A"], "Cedar Fields Partnership"}
    assert coordinator.get(f"/coordinator/partnerships/{created}").status_code == 200
    dashboard = coordinator.get("/coordinator").text
    assert NAMES["A"] in dashboard and "Cedar Fields" in dashboard and NAMES["B"] not in dashboard
    assert world.clients["coord_b"].get(f"/api/v1/partnerships/{created}").status_code == 404
    everything = {p["name"] for p in world.clients["admin"].get("/api/v1/partnerships").json()}
    assert {NAMES["A"], NAMES["B"], "Cedar Fields Partnership"} <= everything


def test_a_coordinator_never_gets_answers(client: TestClient, session: Session) -> None:
    world = build_world(client, session)
    coordinator = world.clients["coord_a"]
    round_id = world.round_ids["A"]
    for path in (
        f"/reports/rounds/{round_id}",
        f"/reports/rounds/{round_id}/answers.csv",
        f"/api/v1/reports/rounds/{round_id}/answers",
        f"/api/v1/reports/rounds/{round_id}/scores",
    ):
        assert coordinator.get(path).status_code == 404, path
    progress = coordinator.get(f"/api/v1/rounds/{round_id}/progress").json()
    assert all(set(row) == set(progress[0]) for row in progress)
    assert not {"answers", "records", "scores"} & set(progress[0])


def test_http_basic_credentials_are_scoped_like_sessions(
    client: TestClient, session: Session
) -> None:
    world = build_world(client, session)
    plain = TestClient(client.app)
    auth = ("coord.a@example.org", "a long enough password for every role")
    b_round = world.round_ids["B"]
    assert plain.get(f"/api/v1/rounds/{world.round_ids['A']}", auth=auth).status_code == 200
    assert plain.get(f"/api/v1/rounds/{b_round}", auth=auth).status_code == 404
    assert plain.get(f"/api/v1/rounds/{b_round + 1000}", auth=auth).status_code == 404
    evaluator = ("eval.a@example.org", "a long enough password for every role")
    assert plain.get(f"/api/v1/reports/rounds/{b_round}", auth=evaluator).status_code == 404
    # an evaluator's credentials are good, but the coordinators' API is not theirs: 404
    assert plain.get(f"/api/v1/rounds/{b_round}", auth=evaluator).status_code == 404
