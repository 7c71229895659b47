"""Two partnerships, A and B, with accounts in every role, signed-in clients and fresh links,
for the authorisation matrix and the CSRF tests (no tests here)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.services import accounts, invitations, partnerships, rounds
from app.services.rate_limits import Limit, RateLimiter, RateLimitPolicy
from tests.conftest import TEST_SECRET, csrf_from, full_answers
from tests.test_reports_support import add_responses

PASSWORD = "a long enough password for every role"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROLES = ("anonymous", "respondent", "coord_a", "coord_b", "eval_a", "eval_b", "analyst", "admin")
# Names that appear nowhere else, so that a page or answer naming them is a leak.
NAMES = {"A": "Alder Vale Partnership", "B": "Birchmoor Partnership"}
ROUND_TITLES = {"A": "Alder Vale spring round", "B": "Birchmoor spring round"}
UNLIMITED = RateLimitPolicy(
    login_per_email=Limit("login-email", 10**6, 60),
    login_per_address=Limit("login-address", 10**6, 60),
    link_per_address=Limit("link-address", 10**6, 60),
)


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """Every (method, path) the app answers, pages and API alike (HEAD left out)."""
    for context in iter_route_contexts(app.routes):
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                yield method, context.path


@dataclass
class World:
    """The two partnerships and a signed-in client per role."""

    session: Session
    client: TestClient
    partnership_ids: dict[str, int]
    round_ids: dict[str, int]
    clients: dict[str, TestClient] = field(default_factory=dict)
    # An evaluator of each partnership that no client is signed in as (its grant is removed
    # by the access page's entry), made with the world so that trying a route adds no row.
    member_ids: dict[str, int] = field(default_factory=dict)
    spell: Callable[[int], str] = str  # how ids are written in paths
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def number(self) -> int:
        return next(self._numbers)

    def fresh_round(self, which: str) -> int:
        """A new open round of partnership ``which``, with no answers."""
        survey_round = rounds.open_round(
            self.session,
            self.partnership_ids[which],
            title=f"Extra round {self.number()}",
            opens_on=date.today() - timedelta(days=1),
            closes_on=date.today() + timedelta(days=30),
            anonymity_threshold=5,
            instrument_id="trustworthy-collaboration",
            instrument_version="2017.1",
        )
        assert survey_round.id is not None
        return survey_round.id

    def fresh_organisation(self, which: str) -> int:
        """A new organisation of partnership ``which``, with no links."""
        organisation = partnerships.add_organisation(
            self.session, self.partnership_ids[which], f"Spare {self.number()}", "other"
        )
        assert organisation.id is not None
        return organisation.id

    def fresh_token(self, which: str) -> str:
        """A new unused personal link of partnership ``which``'s round."""
        return invitations.create_personal_links(
            self.session, self.round_ids[which], organisation_id=None, count=1, most=1
        )[0]

    def fresh_opt_out(self, which: str) -> str:
        """The opt-out token of a new participant of partnership ``which``'s round."""
        from app.services import participants

        address = f"participant{self.number()}@example.org"
        rows = [participants.ParticipantRow(1, address, f"{which} Hospital")]
        result = participants.import_participants(
            self.session, self.round_ids[which], rows, secret=TEST_SECRET
        )
        assert result.added == 1, result.problems
        participant = next(
            p
            for p in participants.round_participants(self.session, self.round_ids[which])
            if p.email == address
        )
        return participants.opt_out_token(TEST_SECRET, participant)

    def origin(self, _role: str) -> dict[str, str]:
        """The headers a browser adds to a script's POST or PUT from this site's own pages."""
        return {"Origin": str(self.client.base_url)}

    def csrf(self, role: str) -> str | None:
        """The CSRF token of ``role``'s browser session (``None``: send none)."""
        return csrf_from(self.clients[role].get("/sign-in").text)


def _sign_in(client: TestClient, path: str, email: str) -> None:
    token = csrf_from(client.get(path).text)
    answer = client.post(
        path,
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def build_world(client: TestClient, session: Session) -> World:
    client.app.state.rate_limiter = RateLimiter(  # type: ignore[attr-defined]
        client.app.state.engine,  # type: ignore[attr-defined]
        TEST_SECRET,
        UNLIMITED,
    )
    partnership_ids: dict[str, int] = {}
    round_ids: dict[str, int] = {}
    for which in ("A", "B"):
        partnership = partnerships.create_partnership(
            session, NAMES[which], "urgent-and-emergency-care"
        )
        assert partnership.id is not None
        partnership_ids[which] = partnership.id
        partnerships.add_organisation(session, partnership.id, f"{which} Hospital", "acute-trust")
        survey_round = rounds.open_round(
            session,
            partnership.id,
            title=ROUND_TITLES[which],
            opens_on=date.today() - timedelta(days=1),
            closes_on=date.today() + timedelta(days=30),
            anonymity_threshold=5,
            instrument_id="trustworthy-collaboration",
            instrument_version="2017.1",
        )
        assert survey_round.id is not None
        round_ids[which] = survey_round.id
        varied = [full_answers(value) for value in (2, 3, 4, 5, 4, 3)]
        add_responses(session, survey_round.id, varied, [{}] * 6)
        # A closed earlier round too: pooled figures (reliability) use closed rounds only.
        earlier = rounds.open_round(
            session,
            partnership.id,
            title=f"{ROUND_TITLES[which]}, earlier",
            opens_on=date.today() - timedelta(days=40),
            closes_on=date.today() - timedelta(days=10),
            anonymity_threshold=5,
            instrument_id="trustworthy-collaboration",
            instrument_version="2017.1",
            historical=True,
        )
        assert earlier.id is not None
        add_responses(session, earlier.id, varied, [{}] * 6)
    world = World(session, client, partnership_ids, round_ids)
    people = {
        "coord_a": ("coordinator", [NAMES["A"]], "/sign-in"),
        "coord_b": ("coordinator", [NAMES["B"]], "/sign-in"),
        "eval_a": ("evaluator", [NAMES["A"]], "/sign-in"),
        "eval_b": ("evaluator", [NAMES["B"]], "/sign-in"),
        "analyst": ("analyst", [], "/sign-in"),
        "admin": ("admin", [], "/sign-in"),
    }
    for which in ("A", "B"):
        member = accounts.add_account(
            session, f"member.{which.lower()}@example.org", None, "evaluator", [NAMES[which]]
        )
        assert member.id is not None
        world.member_ids[which] = member.id
    for role in ROLES:
        world.clients[role] = TestClient(client.app)
    for role, (kind, granted, login_path) in people.items():
        email = f"{role.replace('_', '.')}@example.org"
        accounts.add_account(session, email, PASSWORD, kind, granted)
        _sign_in(world.clients[role], login_path, email)
    return world
