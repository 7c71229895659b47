"""Account management: admins' /admin/accounts pages, a partnership's access page, and the
services behind them.  Insider attacks first: a coordinator of A must never list, grant,
revoke or promote B's accounts, nor make anyone an admin; an evaluator reaches none of it;
disabling takes effect at once on page sessions, Bearer tokens and HTTP Basic; removing leaves
no row of the account behind."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.models import (
    Account,
    AccountLink,
    AccountSession,
    ApiToken,
    AuditEvent,
    OutboxMessage,
    PartnershipGrant,
)
from app.services import account_management, accounts, api_tokens, partnerships, rounds
from app.services.audit import COMMAND_LINE_ACTOR, AuditAction
from app.services.errors import FieldValidationError, InvalidRequestError
from tests.conftest import TEST_SECRET, csrf_from

PASSWORD = "a long enough password for every role"
BASE = "https://survey.example.nhs.uk"


def _partnership(session: Session, name: str) -> int:
    made = partnerships.create_partnership(session, name, "urgent-and-emergency-care")
    assert made.id is not None
    partnerships.add_organisation(session, made.id, f"{name} Hospital", "acute-trust")
    return made.id


def _account(session: Session, email: str, role: str, granted: tuple[str, ...] = ()) -> Account:
    return accounts.add_account(session, email, PASSWORD, role, list(granted))


def _signed_in(client: TestClient, email: str) -> TestClient:
    browser = TestClient(client.app)
    token = csrf_from(browser.get("/sign-in").text)
    answer = browser.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return browser


def _post(browser: TestClient, path: str, data: dict[str, object] | None = None) -> httpx.Response:
    form: dict[str, object] = dict(data or {})
    form["csrf_token"] = csrf_from(browser.get("/sign-in").text)
    return browser.post(path, data=form, follow_redirects=False)


def _grants(session: Session, account_id: int) -> set[int]:
    session.expire_all()
    rows = session.exec(
        select(PartnershipGrant.partnership_id).where(PartnershipGrant.account_id == account_id)
    )
    return set(rows)


def _by_email(session: Session, email: str) -> Account | None:
    session.expire_all()
    return accounts.coordinator_by_email(session, email)


@pytest.fixture
def two(session: Session) -> dict[str, int]:
    ids = {"A": _partnership(session, "Alder Vale"), "B": _partnership(session, "Birchmoor")}
    _account(session, "admin@example.org", "admin")
    _account(session, "coord.a@example.org", "coordinator", ("Alder Vale",))
    _account(session, "coord.b@example.org", "coordinator", ("Birchmoor",))
    _account(session, "eval.a@example.org", "evaluator", ("Alder Vale",))
    _account(session, "eval.b@example.org", "evaluator", ("Birchmoor",))
    return ids


def _id(session: Session, email: str) -> int:
    found = _by_email(session, email)
    assert found is not None and found.id is not None
    return found.id


# -- insider attacks ------------------------------------------------------------------------


def test_insider_a_coordinator_of_a_cannot_see_or_change_b_accounts(
    client: TestClient, session: Session, two: dict[str, int]
) -> None:
    coord_a = _signed_in(client, "coord.a@example.org")
    a, b = two["A"], two["B"]
    eval_b = _id(session, "eval.b@example.org")
    eval_a = _id(session, "eval.a@example.org")
    page = coord_a.get(f"/coordinator/partnerships/{a}/access")
    assert page.status_code == 200
    assert "eval.a@example.org" in page.text and "eval.b@example.org" not in page.text
    assert "Birchmoor" not in page.text
    assert coord_a.get(f"/coordinator/partnerships/{b}/access").status_code == 404
    # B's evaluator, by B's path and by A's path, and by the id written other ways
    for path in (
        f"/coordinator/partnerships/{b}/access/{eval_b}/remove",
        f"/coordinator/partnerships/{a}/access/{eval_b}/remove",
        f"/coordinator/partnerships/{a}/access/0{eval_a}/remove",
        f"/coordinator/partnerships/{a}/access/{eval_a}.0/remove",
        f"/coordinator/partnerships/{a}/access/+{eval_a}/remove",
    ):
        assert _post(coord_a, path).status_code == 404, path
    assert _grants(session, eval_b) == {b}
    assert _grants(session, eval_a) == {a}
    invited = _post(
        coord_a,
        f"/coordinator/partnerships/{b}/access",
        {"email": "new@example.org", "role": "evaluator"},
    )
    assert invited.status_code == 404
    assert _by_email(session, "new@example.org") is None
    # nobody made an admin, nor an analyst, through the coordinator's form
    for role in ("admin", "analyst", "coordinator evaluator"):
        answer = _post(
            coord_a,
            f"/coordinator/partnerships/{a}/access",
            {"email": "climber@example.org", "role": role},
        )
        assert answer.status_code == 422
    assert _by_email(session, "climber@example.org") is None
    # and not by inviting an existing account: B's coordinator invited as A's evaluator would
    # read B's reports; B's evaluator invited as A's coordinator would run B
    for email, role in (
        ("coord.b@example.org", "evaluator"),
        ("eval.b@example.org", "coordinator"),
    ):
        answer = _post(
            coord_a, f"/coordinator/partnerships/{a}/access", {"email": email, "role": role}
        )
        assert answer.status_code == 422
        assert "ask an admin" in answer.text
        found = _by_email(session, email)
        assert found is not None and role not in found.role_set
        assert _grants(session, found.id or 0) == {b}
    # the admin pages do not exist for coordinators
    for path in ("/admin/accounts", "/admin/accounts/invite", f"/admin/accounts/{eval_b}"):
        assert coord_a.get(path).status_code == 404
    assert _post(coord_a, f"/admin/accounts/{eval_b}/disable").status_code == 404
    assert _post(coord_a, f"/admin/accounts/{eval_b}/roles", {"roles": "admin"}).status_code == 404
    coord_a_account = _by_email(session, "coord.a@example.org")
    assert coord_a_account is not None and coord_a_account.role_set == {"coordinator"}


def test_insider_an_evaluator_reaches_none_of_it(
    client: TestClient, session: Session, two: dict[str, int]
) -> None:
    evaluator = _signed_in(client, "eval.a@example.org")
    a = two["A"]
    eval_a = _id(session, "eval.a@example.org")
    for path in (
        "/admin/accounts",
        "/admin/accounts/invite",
        f"/admin/accounts/{eval_a}",
        f"/admin/accounts/{eval_a}/remove",
        f"/coordinator/partnerships/{a}/access",
    ):
        assert evaluator.get(path).status_code == 404, path
    answer = _post(
        evaluator,
        f"/coordinator/partnerships/{a}/access",
        {"email": "x@example.org", "role": "evaluator"},
    )
    assert answer.status_code == 404
    answer = _post(evaluator, f"/admin/accounts/{eval_a}/roles", {"roles": "admin"})
    assert answer.status_code == 404
    found = _by_email(session, "eval.a@example.org")
    assert found is not None and found.role_set == {"evaluator"}


def test_a_coordinator_invites_grants_an_existing_account_and_removes_access(
    client: TestClient, session: Session, two: dict[str, int]
) -> None:
    coord_a = _signed_in(client, "coord.a@example.org")
    a, b = two["A"], two["B"]
    answer = _post(
        coord_a,
        f"/coordinator/partnerships/{a}/access",
        {"email": "New.Person@Example.org", "role": "evaluator"},
    )
    assert answer.status_code == 303
    person = _by_email(session, "new.person@example.org")
    assert person is not None and person.password_hash is None and person.role_set == {"evaluator"}
    assert _grants(session, person.id or 0) == {a}
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.recipient == person.email)).one()
    assert f"{client.base_url}/account/set-password/" in mail.body
    # B's evaluator, already an evaluator: a second partnership, no failure, no new role
    answer = _post(
        coord_a,
        f"/coordinator/partnerships/{a}/access",
        {"email": "eval.b@example.org", "role": "evaluator"},
    )
    assert answer.status_code == 303
    eval_b = _id(session, "eval.b@example.org")
    assert _grants(session, eval_b) == {a, b}
    page = coord_a.get(f"/coordinator/partnerships/{a}/access").text
    assert "eval.b@example.org" in page and "Birchmoor" not in page
    assert "not yet set" not in page and "Disabled" not in page  # address and role only
    # removing A's grant leaves B's
    answer = _post(coord_a, f"/coordinator/partnerships/{a}/access/{eval_b}/remove")
    assert answer.status_code == 303
    assert _grants(session, eval_b) == {b}
    # not their own access
    own = _id(session, "coord.a@example.org")
    answer = _post(coord_a, f"/coordinator/partnerships/{a}/access/{own}/remove")
    assert answer.status_code == 422
    assert _grants(session, own) == {a}
    actions = [
        (e.actor, e.action, e.partnership_id)
        for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        if e.action
        in {AuditAction.ACCOUNT_INVITED, AuditAction.GRANT_ADDED, AuditAction.GRANT_REMOVED}
    ]
    assert actions == [
        ("coord.a@example.org", AuditAction.ACCOUNT_INVITED, None),
        ("coord.a@example.org", AuditAction.GRANT_ADDED, a),
        ("coord.a@example.org", AuditAction.GRANT_ADDED, a),
        ("coord.a@example.org", AuditAction.GRANT_REMOVED, a),
    ]


# -- the admin's pages ----------------------------------------------------------------------


def test_an_admin_invites_lists_filters_and_changes_roles_and_grants(
    client: TestClient, session: Session, two: dict[str, int]
) -> None:
    admin = _signed_in(client, "admin@example.org")
    a, b = two["A"], two["B"]
    page = admin.get("/admin/accounts/invite")
    assert page.status_code == 200
    problems = _post(
        admin, "/admin/accounts/invite", {"email": "not an address", "partnership": str(a)}
    )
    assert problems.status_code == 422
    text = problems.text
    assert "There is a problem" in text and 'value="not an address"' in text
    assert "Choose at least one role" in text
    assert "Enter an e-mail address" in text
    answer = _post(
        admin,
        "/admin/accounts/invite",
        {"email": "reader@example.org", "roles": "evaluator", "partnership": [str(a), str(b)]},
    )
    assert answer.status_code == 303
    reader = _id(session, "reader@example.org")
    assert answer.headers["location"] == f"/admin/accounts/{reader}?done=invited"
    assert _grants(session, reader) == {a, b}
    listing = admin.get("/admin/accounts").text
    assert "reader@example.org" in listing and "Invited, not yet set a password" in listing
    only_b = admin.get(f"/admin/accounts?partnership={b}").text
    assert "reader@example.org" in only_b and "eval.a@example.org" not in only_b
    coordinators = admin.get("/admin/accounts?role=coordinator").text
    assert "coord.a@example.org" in coordinators and "reader@example.org" not in coordinators
    found = admin.get("/admin/accounts?q=READER").text
    assert "reader@example.org" in found and "coord.a@example.org" not in found
    assert "No account matches" in admin.get("/admin/accounts?q=%25").text
    # inviting the address again adds, never fails
    again = _post(
        admin, "/admin/accounts/invite", {"email": "reader@example.org", "roles": "analyst"}
    )
    assert again.headers["location"].endswith("?done=added")
    assert _by_email(session, "reader@example.org").role_set == {"evaluator", "analyst"}  # type: ignore[union-attr]
    roles = _post(admin, f"/admin/accounts/{reader}/roles", {"roles": ["coordinator"]})
    assert roles.status_code == 303
    assert _by_email(session, "reader@example.org").role_set == {"coordinator"}  # type: ignore[union-attr]
    assert (
        _post(admin, f"/admin/accounts/{reader}/grants/remove", {"partnership": str(b)}).status_code
        == 303
    )
    assert _grants(session, reader) == {a}
    assert (
        _post(admin, f"/admin/accounts/{reader}/grants", {"partnership": str(b)}).status_code == 303
    )
    assert _grants(session, reader) == {a, b}
    bad = _post(admin, f"/admin/accounts/{reader}/grants", {"partnership": f"0{b}"})
    assert bad.status_code == 422
    page = admin.get(f"/admin/accounts/{reader}").text
    assert "Alder Vale, Birchmoor" in page
    assert admin.get("/admin/accounts/999999").status_code == 404
    assert admin.get(f"/admin/accounts/0{reader}").status_code == 404
    lines = list(session.exec(select(AuditEvent).where(AuditEvent.actor == "admin@example.org")))
    kinds = [line.action for line in lines]
    assert kinds.count(AuditAction.ACCOUNT_INVITED) == 1
    assert kinds.count(AuditAction.ROLES_CHANGED) == 2
    assert kinds.count(AuditAction.GRANT_ADDED) == 3
    assert kinds.count(AuditAction.GRANT_REMOVED) == 1
    assert all("/account/set-password/" not in line.detail + line.target for line in lines)


def test_nobody_disables_removes_or_demotes_themselves_or_the_last_admin(
    client: TestClient, session: Session, two: dict[str, int]
) -> None:
    admin = _signed_in(client, "admin@example.org")
    own = _id(session, "admin@example.org")
    for path, data in (
        (f"/admin/accounts/{own}/disable", {}),
        (f"/admin/accounts/{own}/roles", {"roles": "coordinator"}),
    ):
        answer = _post(admin, path, data)
        assert answer.status_code == 422, path
        assert "your own account" in answer.text
    answer = _post(admin, f"/admin/accounts/{own}/remove", {"confirm_email": "admin@example.org"})
    assert answer.status_code == 422
    me = _by_email(session, "admin@example.org")
    assert me is not None and me.disabled_at is None and "admin" in me.role_set
    # from the command line (no "own" account), the last admin is still kept
    with pytest.raises(InvalidRequestError, match="last admin"):
        account_management.disable(session, COMMAND_LINE_ACTOR, own)
    with pytest.raises(InvalidRequestError, match="last admin"):
        account_management.remove(session, COMMAND_LINE_ACTOR, own)
    with pytest.raises(InvalidRequestError, match="last admin"):
        account_management.set_roles(session, COMMAND_LINE_ACTOR, own, ["analyst"])
    second = _account(session, "second.admin@example.org", "admin")
    assert second.id is not None
    account_management.disable(session, COMMAND_LINE_ACTOR, second.id)
    with pytest.raises(InvalidRequestError, match="last admin"):  # a disabled admin is no admin
        account_management.disable(session, COMMAND_LINE_ACTOR, own)
    account_management.enable(session, COMMAND_LINE_ACTOR, second.id)
    account_management.disable(session, COMMAND_LINE_ACTOR, own)


def test_disabling_ends_page_sessions_bearer_tokens_and_basic_at_once(
    client: TestClient, session: Session, two: dict[str, int]
) -> None:
    admin = _signed_in(client, "admin@example.org")
    reader = _signed_in(client, "eval.a@example.org")
    account = _by_email(session, "eval.a@example.org")
    assert account is not None and account.id is not None
    token = api_tokens.create_token(session, account, "export", TEST_SECRET).token
    plain = TestClient(client.app)
    bearer = {"Authorization": f"Bearer {token}"}
    basic = ("eval.a@example.org", PASSWORD)
    assert reader.get("/reports", follow_redirects=False).status_code == 200
    assert plain.get("/api/v1/reports/rounds", headers=bearer).status_code == 200
    assert plain.get("/api/v1/reports/rounds", auth=basic).status_code == 200
    from app.models import AccountLinkPurpose
    from app.services import account_links

    link = account_links.new_link(session, account, AccountLinkPurpose.PASSWORD_RESET)
    session.commit()
    assert _post(admin, f"/admin/accounts/{account.id}/disable").status_code == 303
    assert plain.get(f"/account/set-password/{link}").status_code == 404
    gone = reader.get("/reports", follow_redirects=False)
    assert gone.status_code in (302, 303) and gone.headers["location"].startswith("/sign-in")
    assert plain.get("/api/v1/reports/rounds", headers=bearer).status_code == 401
    assert plain.get("/api/v1/reports/rounds", auth=basic).status_code == 401
    session.expire_all()
    assert not list(
        session.exec(select(AccountSession).where(AccountSession.account_id == account.id))
    )
    assert "Disabled" in admin.get("/admin/accounts").text
    assert _post(admin, f"/admin/accounts/{account.id}/enable").status_code == 303
    assert plain.get("/api/v1/reports/rounds", auth=basic).status_code == 200
    assert plain.get("/api/v1/reports/rounds", headers=bearer).status_code == 200
    assert reader.get("/reports", follow_redirects=False).status_code != 200  # still signed out
    assert plain.get(f"/account/set-password/{link}").status_code == 404  # ended for good
    actions = [
        e.action
        for e in session.exec(
            select(AuditEvent).where(AuditEvent.target == "account eval.a@example.org")
        )
    ]
    assert AuditAction.ACCOUNT_DISABLED in actions and AuditAction.ACCOUNT_ENABLED in actions


def test_removing_an_account_leaves_no_grant_session_token_or_link(
    client: TestClient, session: Session, two: dict[str, int]
) -> None:
    admin = _signed_in(client, "admin@example.org")
    _signed_in(client, "eval.a@example.org")
    account = _by_email(session, "eval.a@example.org")
    assert account is not None and account.id is not None
    account_id = account.id
    api_tokens.create_token(session, account, "export", TEST_SECRET)
    from app.services import account_links

    account_links.send_reset_link(session, COMMAND_LINE_ACTOR, account, BASE)
    confirm = admin.get(f"/admin/accounts/{account_id}/remove")
    assert confirm.status_code == 200 and "This cannot be undone" in confirm.text
    wrong = _post(
        admin, f"/admin/accounts/{account_id}/remove", {"confirm_email": "someone@else.org"}
    )
    assert wrong.status_code == 422
    assert 'value="someone@else.org"' in wrong.text
    done = _post(
        admin, f"/admin/accounts/{account_id}/remove", {"confirm_email": "Eval.A@example.org"}
    )
    assert done.status_code == 303
    session.expire_all()
    assert session.get(Account, account_id) is None
    for table in (PartnershipGrant, AccountSession, ApiToken, AccountLink):
        assert not list(session.exec(select(table).where(table.account_id == account_id))), table
    removed = session.exec(
        select(AuditEvent).where(AuditEvent.action == AuditAction.ACCOUNT_REMOVED)
    ).one()
    assert (removed.actor, removed.target) == ("admin@example.org", "account eval.a@example.org")


def test_invite_service_checks_its_input(session: Session, two: dict[str, int]) -> None:
    with pytest.raises(FieldValidationError) as raised:
        account_management.invite(
            session, COMMAND_LINE_ACTOR, "x@example.org", ["evaluator"], [], BASE
        )
    assert "partnership" in raised.value.problems
    with pytest.raises(FieldValidationError):
        account_management.invite(session, COMMAND_LINE_ACTOR, "x@example.org", ["owner"], [], BASE)
    with pytest.raises(FieldValidationError):
        account_management.invite(
            session, COMMAND_LINE_ACTOR, "x@example.org", ["coordinator"], [999999], BASE
        )
    assert _by_email(session, "x@example.org") is None


def test_a_partnership_round_is_unaffected_by_removing_its_coordinator(
    session: Session, two: dict[str, int]
) -> None:
    survey_round = rounds.open_round(
        session,
        two["A"],
        title="Spring",
        opens_on=date.today(),
        closes_on=date.today() + timedelta(days=10),
        anonymity_threshold=5,
        instrument_id="trustworthy-collaboration",
        instrument_version="2017.1",
    )
    coordinator = _id(session, "coord.a@example.org")
    account_management.remove(session, COMMAND_LINE_ACTOR, coordinator)
    assert rounds.get_round(session, survey_round.id or 0).title == "Spring"
    assert partnerships.get_partnership(session, two["A"]).name == "Alder Vale"
