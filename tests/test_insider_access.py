"""Issue 10, tried as an insider would: ids written other ways, sessions that outlive signing
out, forged cookies, cross-site API calls, the published secret key, derivable demo secrets,
forged ``Host`` headers, cached answers, formulas in the links CSV and world-readable files.

Every test runs on a real SQLite file and a real PostgreSQL schema (the ``database_url``
fixture) where it touches the database.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import itsdangerous
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.database import is_sqlite, make_engine
from app.main import create_app
from app.models import AccountSession, utc_now
from app.services import partnerships
from app.services.backup import backup_database
from app.services.demo import seed_demo
from app.settings import DEVELOPMENT_SECRET_KEY, Settings, SettingsError, load_settings
from app.web.coordinator_pages import spreadsheet_safe
from app.web.deps import PATH_ID_DEPENDENCIES, SESSION_KEY
from tests.conftest import TEST_SECRET, csrf_from, token_of
from tests.test_authorisation import MATRIX, NOT_FOUND, RELIABILITY_QUERY, SIGN_IN, _outcome
from tests.test_authorisation_support import PASSWORD, UNSAFE, World, build_world

ID_NAMES = ("{partnership_id}", "{round_id}")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
# Each writes the id n another way; int() or pydantic read most of them as n.
SPELLINGS = {
    "plus": lambda n: f"+{n}",
    "decimal": lambda n: f"{n}.0",
    "space before": lambda n: f"%20{n}",
    "space after": lambda n: f"{n}%20",
    "underscore": lambda n: f"0_{n}",
    "leading zero": lambda n: f"0{n}",
    "nul": lambda n: f"{n}%00",
    "arabic-indic": lambda n: httpx.URL("/" + str(n).translate(ARABIC_INDIC)).raw_path.decode()[1:],
    "hex": lambda n: f"0x{n:x}",
    "newline": lambda n: f"{n}%0A",
}
NOT_TRACKED = {"rate_limit_counter", "account_session"}  # counters and sign-ins, not data


def every_row(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every data table, in a stable order."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    rows = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name in NOT_TRACKED:
                continue
            found = connection.execute(sa.select(table)).all()
            rows[table.name] = sorted((tuple(row) for row in found), key=repr)
    return rows


# 1. Ids and scope ---------------------------------------------------------------------------


def _id_routes() -> list[tuple[str, str]]:
    return sorted(key for key in MATRIX if any(name in key[1] for name in ID_NAMES))


@pytest.mark.parametrize("role", ["coord_a", "admin", "eval_a"])
def test_ids_written_other_ways_are_not_found_on_every_route(
    client: TestClient, session: Session, engine: Engine, role: str
) -> None:
    """``+2``, ``2.0``, ``%202``, ``0_2``, ``02``... on every route with an id in its path,
    pages and API: 404 (or 422), whoever asks and whatever the partnership, and nothing
    changes.  (Before: the scope check read the text, the route read the int.)"""
    world = build_world(client, session)
    premade = {which: world.fresh_round(which) for which in ("A", "B")}
    world.fresh_round = lambda which: premade[which]  # type: ignore[method-assign]
    spare = {which: world.fresh_organisation(which) for which in ("A", "B")}
    world.fresh_organisation = lambda which: spare[which]  # type: ignore[method-assign]
    before = every_row(engine)
    routes = _id_routes()
    assert len(routes) >= 20, routes
    problems = []
    for method, path in routes:
        entry = MATRIX[(method, path)]
        for spelling, spell in SPELLINGS.items():
            world.spell = spell
            for which in ("A", "B"):
                answer = entry.send(world, which, role)
                expected = entry.policy(role, which)
                got = _outcome(answer, path)
                refused = got == SIGN_IN if expected == SIGN_IN else got in (NOT_FOUND, "422")
                if not refused:
                    problems.append(f"{role} {method} {path} {spelling} on {which}: {got}")
    assert problems == [], "\n".join(problems)
    world.spell = str
    assert every_row(engine) == before
    # The canonical spelling still works, so the refusals above were the spelling's doing.
    if role != "eval_a":
        answer = MATRIX[("GET", "/api/v1/rounds/{round_id}")].send(world, "A", role)
        assert answer.status_code == 200


def test_every_path_id_is_read_once_as_text_by_the_canonical_parser(client: TestClient) -> None:
    """No route reads an id from its path as a (lenient) int; coordinating routes get theirs
    from the dependencies that check the partnership scope on the parsed id."""
    checked = 0
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.route
        if not isinstance(route, APIRoute):
            continue
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            pending.extend(dependant.dependencies)
            for param in dependant.path_params:
                if not param.name.endswith("_id"):
                    continue
                checked += 1
                assert param.field_info.annotation is str, (context.path, param.name)
                coordinating = context.path.startswith(
                    ("/coordinator", "/api/v1/partnerships", "/api/v1/rounds")
                )
                if coordinating:
                    assert dependant.call in PATH_ID_DEPENDENCIES, (context.path, dependant.call)
    assert checked >= 20


def test_body_form_and_query_ids_must_be_canonical(client: TestClient, session: Session) -> None:
    """An id in a JSON body, a form or a query written any other way is a 422 naming it."""
    world = build_world(client, session)
    organisation = partnerships.list_organisations(session, world.partnership_ids["A"])[0]
    assert organisation.id is not None
    round_a = world.round_ids["A"]
    admin = world.clients["admin"]
    origin = world.origin("admin")
    for given in (str(organisation.id), float(organisation.id), f"+{organisation.id}", True):
        answer = admin.post(
            f"/api/v1/rounds/{round_a}/links",
            json={"count": 1, "organisation_id": given},
            headers=origin,
        )
        assert answer.status_code == 422, (given, answer.text)
        assert answer.json()["detail"][0]["loc"][-1] == "organisation_id"
    fine = admin.post(
        f"/api/v1/rounds/{round_a}/links",
        json={"count": 1, "organisation_id": organisation.id},
        headers=origin,
    )
    assert fine.status_code == 201
    for given in (f" {organisation.id}", f"0{organisation.id}", f"{organisation.id}.0"):
        page = admin.post(
            f"/coordinator/rounds/{round_a}/links",
            data={"count": 1, "organisation_id": given, "csrf_token": world.csrf("admin")},
        )
        assert page.status_code == 422 and "organisation_id" in page.text.lower(), given
    items = RELIABILITY_QUERY.removeprefix("?")
    for given in (f"%2B{round_a}", f"0{round_a}", f"{round_a}.0", f"%20{round_a}"):
        api = world.clients["analyst"].get(f"/api/v1/analyst/reliability?{items}&round={given}")
        assert api.status_code == 422, given
        assert api.json()["detail"][0]["loc"][-2:] == ["round", 0]
        page = world.clients["analyst"].get(f"/analyst/reliability?{items}&round={given}")
        assert page.status_code == 422, given
    assert world.clients["analyst"].get(f"/api/v1/analyst/reliability?{items}").status_code == 200


# 2. Sessions --------------------------------------------------------------------------------


def _cookie(client: TestClient) -> str:
    value = client.cookies.get("trust_survey_session")
    assert value
    return value


def _session_data(cookie: str) -> dict[str, object]:
    payload = cookie.split(".", 1)[0]
    data: dict[str, object] = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def _forged(secret: str, data: dict[str, object]) -> str:
    """A session cookie as Starlette signs it, made by whoever knows ``secret``."""
    payload = base64.b64encode(json.dumps(data).encode())
    return itsdangerous.TimestampSigner(secret).sign(payload).decode()


def _sign_in(client: TestClient, path: str, email: str) -> None:
    token = csrf_from(client.get(path).text)
    answer = client.post(
        path,
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303


@pytest.mark.parametrize(
    ("login", "email", "reads"),
    [
        ("/sign-in", "coord.a@example.org", "/api/v1/rounds/{r}"),
        ("/sign-in", "eval.a@example.org", "/api/v1/reports/rounds/{r}/answers"),
    ],
)
def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(
    client: TestClient, session: Session, login: str, email: str, reads: str
) -> None:
    world = build_world(client, session)
    path = reads.replace("{r}", str(world.round_ids["A"]))
    browser = TestClient(client.app)
    _sign_in(browser, login, email)
    copied = TestClient(client.app, cookies={"trust_survey_session": _cookie(browser)})
    assert copied.get(path).status_code == 200
    logout = "/sign-out"
    token = csrf_from(browser.get(login).text)
    assert browser.post(logout, data={"csrf_token": token}, follow_redirects=False).status_code
    assert copied.get(path).status_code == 401  # the copy died with the sign-out
    assert browser.get(path).status_code == 401


def test_the_cookie_carries_a_random_secret_whose_hash_is_kept(
    client: TestClient, session: Session
) -> None:
    world = build_world(client, session)
    data = _session_data(_cookie(world.clients["coord_a"]))
    secret = data[SESSION_KEY]
    assert isinstance(secret, str) and len(secret) >= 40
    account_ids = {str(row.account_id) for row in session.exec(select(AccountSession))}
    assert not account_ids & {str(value) for value in data.values()}
    row = session.get(AccountSession, hashlib.sha256(secret.encode()).hexdigest())
    assert row is not None
    lifetime = row.expires_at - row.created_at
    assert timedelta(hours=7, minutes=59) < lifetime <= timedelta(hours=8)


def test_an_expired_session_is_signed_out(client: TestClient, session: Session) -> None:
    world = build_world(client, session)
    coordinator = world.clients["coord_a"]
    assert coordinator.get("/coordinator", follow_redirects=False).status_code == 200
    for row in session.exec(select(AccountSession)):
        row.expires_at = utc_now() - timedelta(seconds=1)
        session.add(row)
    session.commit()
    answer = coordinator.get("/coordinator", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_a_cookie_forged_with_the_signing_key_reads_nothing(
    client: TestClient, session: Session
) -> None:
    """Even with the signing key, a cookie naming an account (or guessing a secret) is no
    sign-in: only a live session row is."""
    world = build_world(client, session)
    round_a = world.round_ids["A"]
    admin_id = session.exec(sa.text("SELECT id FROM account WHERE roles = 'admin'")).one()[0]
    for data in (
        {"coordinator_id": admin_id, "account_id": admin_id},
        {SESSION_KEY: str(admin_id)},
        {SESSION_KEY: "a-guessed-secret-of-the-right-length-0123456789ab"},
    ):
        forged = TestClient(
            client.app, cookies={"trust_survey_session": _forged(TEST_SECRET, data)}
        )
        assert forged.get(f"/api/v1/reports/rounds/{round_a}/answers").status_code == 401
        assert forged.get(f"/api/v1/rounds/{round_a}").status_code == 401
        assert forged.get("/coordinator", follow_redirects=False).status_code == 303


# 3. CSRF on the cookie-authenticated API ----------------------------------------------------


def _api_writes() -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for method, path in MATRIX
        if method in UNSAFE and path.startswith("/api/") and not path.startswith("/api/v1/survey")
    )


def _send_each(world: World, headers: dict[str, str]) -> dict[str, int]:
    """Send every cookie-authenticated API write as the admin's browser, with ``headers``."""
    world.origin = lambda _role: headers  # type: ignore[method-assign]
    codes = {}
    for method, path in _api_writes():
        entry = MATRIX[(method, path)]
        answer = entry.send(world, "A" if entry.scoped else None, "admin")
        codes[f"{method} {path}"] = answer.status_code
    return codes


@pytest.mark.parametrize(
    "origin", [{"Origin": "https://evil.example"}, {"Origin": "null"}, {}], ids=str
)
def test_cookie_api_writes_from_another_site_or_no_site_are_refused(
    client: TestClient, session: Session, engine: Engine, origin: dict[str, str]
) -> None:
    world = build_world(client, session)
    premade = world.fresh_round("A")
    world.fresh_round = lambda _which: premade  # type: ignore[method-assign]
    spare = world.fresh_organisation("A")
    world.fresh_organisation = lambda _which: spare  # type: ignore[method-assign]
    assert len(_api_writes()) >= 7
    before = every_row(engine)
    codes = _send_each(world, origin)
    assert set(codes.values()) == {403}, codes
    assert every_row(engine) == before


def _not_as_expected(world: World, headers: dict[str, str]) -> list[str]:
    """Send every cookie-authenticated API write as the admin's browser with ``headers``; the
    answers that are not what the authorisation matrix expects of the admin (2xx, or the
    refusal of input that an entry sends wrong on purpose so as to leave the world as it is)."""
    world.origin = lambda _role: headers  # type: ignore[method-assign]
    problems = []
    for method, path in _api_writes():
        entry = MATRIX[(method, path)]
        which = "A" if entry.scoped else None
        answer = entry.send(world, which, "admin")
        expected = entry.policy("admin", which)
        if _outcome(answer, path) != expected or not 200 <= answer.status_code < 500:
            problems.append(f"{method} {path}: {answer.status_code}, expected {expected}")
    return problems


def test_cookie_api_writes_from_this_site_work(client: TestClient, session: Session) -> None:
    world = build_world(client, session)
    assert _not_as_expected(world, {"Origin": "http://testserver"}) == []
    # no Origin, but the session's CSRF token
    assert _not_as_expected(world, {"X-CSRF-Token": world.csrf("admin") or ""}) == []


def test_http_basic_callers_are_unaffected_but_not_from_another_site(
    client: TestClient, session: Session
) -> None:
    world = build_world(client, session)
    script = TestClient(client.app)
    auth = ("admin@example.org", PASSWORD)
    fresh = world.fresh_round("A")
    assert script.post(f"/api/v1/rounds/{fresh}/open-link", auth=auth).status_code == 201
    other = world.fresh_round("A")
    evil = {"Origin": "https://evil.example"}
    refused = script.post(f"/api/v1/rounds/{other}/close", auth=auth, headers=evil)
    assert refused.status_code == 403
    assert script.get(f"/api/v1/rounds/{other}", auth=auth).json()["status"] == "open"


# 4. Secrets ---------------------------------------------------------------------------------


def test_the_published_development_key_is_refused_everywhere() -> None:
    for environment in ("development", "test", "production"):
        with pytest.raises(ValueError, match="SECRET_KEY"):
            Settings(environment=environment, secret_key=DEVELOPMENT_SECRET_KEY)
    with pytest.raises(ValueError, match="at least 32"):
        Settings(secret_key="short")


def test_an_unset_key_is_random_kept_0600_and_shared(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new-folder' / 'survey.sqlite3'}"
    first = Settings(database_url=url).signing_key()
    key_file = tmp_path / "new-folder" / "secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert Settings(database_url=url).signing_key() == first  # the next start, another worker
    assert len(first) >= 32 and first != DEVELOPMENT_SECRET_KEY
    other = Settings(database_url=f"sqlite:///{tmp_path / 'elsewhere' / 'x.sqlite3'}")
    assert other.signing_key() != first
    kept = tmp_path / "kept" / "key"
    assert Settings(secret_key_file=kept).signing_key() == kept.read_text().strip()
    kept.chmod(0o644)
    Settings(secret_key_file=kept).signing_key()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    kept.write_text(DEVELOPMENT_SECRET_KEY)
    with pytest.raises(ValueError, match="published value"):
        Settings(secret_key_file=kept).signing_key()


def test_a_cookie_forged_with_the_published_key_reads_nothing(
    migrated_url: str, session: Session, tmp_path: Path
) -> None:
    """With SECRET_KEY unset (the default), a cookie signed with the key older versions
    published is refused: the app signs with its own random key."""
    unset = Settings(
        environment="test", database_url=migrated_url, secret_key_file=tmp_path / "secret-key"
    )
    seed = seed_demo(session, instrument_id="trustworthy-collaboration", anonymity_threshold=5)
    account_id = session.exec(sa.text("SELECT id FROM account")).one()[0]
    with TestClient(create_app(unset)) as app_client:
        for data in ({"coordinator_id": account_id}, {SESSION_KEY: "x" * 43}):
            app_client.cookies.set("trust_survey_session", _forged(DEVELOPMENT_SECRET_KEY, data))
            assert app_client.get(f"/api/v1/rounds/{seed.round_id}").status_code == 401
            page = app_client.get("/coordinator", follow_redirects=False)
            assert page.status_code == 303


def test_demo_links_and_password_cannot_be_derived(tmp_path: Path) -> None:
    """Two demos seeded with the same settings share no link or password."""
    seeds = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name / 'demo.sqlite3'}"
        from app import migrating

        migrating.upgrade(url)
        engine = make_engine(url)
        with Session(engine, expire_on_commit=False) as session:
            seeds.append(
                seed_demo(session, instrument_id="trustworthy-collaboration", anonymity_threshold=5)
            )
        engine.dispose()
    one, two = seeds
    assert one.respondent_token and one.open_token and one.coordinator_password
    assert one.respondent_token != two.respondent_token
    assert one.open_token != two.open_token
    assert one.coordinator_password != two.coordinator_password


# 5. Hosts -----------------------------------------------------------------------------------


def test_a_forged_host_never_reaches_a_link(client: TestClient, session: Session) -> None:
    world = build_world(client, session)
    admin = world.clients["admin"]
    round_a = world.round_ids["A"]
    forged = {"Host": "evil.example", "Origin": "http://evil.example"}
    answer = admin.post(f"/api/v1/rounds/{round_a}/links", json={"count": 1}, headers=forged)
    assert answer.status_code == 400 and "ALLOWED_HOSTS" in answer.text
    page = admin.get("/coordinator", headers={"Host": "evil.example:8000"})
    assert page.status_code == 400 and "evil.example" not in page.headers.get("location", "")
    made = admin.post(
        f"/api/v1/rounds/{round_a}/links", json={"count": 1}, headers=world.origin("admin")
    )
    assert made.status_code == 201
    assert all(link.startswith("http://testserver/s/") for link in made.json()["links"])


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:8000", "survey.example"])
def test_trusted_hosts_are_answered(settings: Settings, host: str) -> None:
    trusting = settings.model_copy(update={"allowed_hosts": frozenset({"survey.example"})})
    with TestClient(create_app(trusting)) as app_client:
        assert app_client.get("/healthz", headers={"Host": host}).status_code == 200
        assert app_client.get("/healthz", headers={"Host": "other.example"}).status_code == 400


def test_allowed_hosts_and_public_base_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "Survey.Example.org, 10.0.0.5")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://links.example.org:8443")
    hosts = load_settings().trusted_hosts
    assert {"survey.example.org", "10.0.0.5", "links.example.org", "localhost"} <= hosts
    assert "testserver" not in hosts
    monkeypatch.setenv("PUBLIC_BASE_URL", "javascript:alert(1)")
    with pytest.raises(SettingsError, match=r"^PUBLIC_BASE_URL: "):
        load_settings()


def test_production_requires_public_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL must be set") as raised:
        load_settings()
    assert "\n" not in str(raised.value)


# 6. Cache-Control ---------------------------------------------------------------------------


def test_no_dynamic_answer_may_be_stored(client: TestClient, session: Session) -> None:
    """Every page and API answer (not the static files) says ``no-store``: Back on a shared
    computer after submitting, or after signing out, shows nothing from a cache."""
    world = build_world(client, session)
    stored = []
    for (method, path), entry in sorted(MATRIX.items(), key=lambda pair: "logout" in pair[0][1]):
        for role in ("admin", "analyst", "respondent"):
            answer = entry.send(world, "A" if entry.scoped else None, role)
            if path.startswith(("/assets/", "/static/")):
                continue
            if answer.headers.get("cache-control") != "no-store":
                stored.append(f"{role} {method} {path}: {answer.headers.get('cache-control')}")
    assert stored == [], "\n".join(stored)
    assets = client.get("/static/survey.css")
    assert assets.status_code == 200 and "no-store" not in assets.headers["cache-control"]


def test_back_after_submitting_finds_nothing_cached(client: TestClient, session: Session) -> None:
    world = build_world(client, session)
    token = world.fresh_token("A")
    respondent = TestClient(client.app)
    for path in (f"/s/{token}", f"/s/{token}/check", f"/api/v1/survey/{token}"):
        answer = respondent.get(path)
        assert answer.headers["cache-control"] == "no-store", path
    report = world.clients["eval_a"].get(f"/api/v1/reports/rounds/{world.round_ids['A']}")
    assert report.status_code == 200 and report.headers["cache-control"] == "no-store"


# 7. The links CSV ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_links_csv_neutralises_formulas(client: TestClient, session: Session, name: str) -> None:
    world = build_world(client, session)
    organisation = partnerships.add_organisation(
        session, world.partnership_ids["A"], name, "acute-trust"
    )
    answer = world.clients["admin"].post(
        f"/coordinator/rounds/{world.round_ids['A']}/links",
        data={"count": 2, "organisation_id": organisation.id, "csrf_token": world.csrf("admin")},
    )
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["organisation", "link"] and len(rows) == 3
    for cell, link in rows[1:]:
        assert cell == "'" + name
        assert token_of(link)


def test_every_formula_start_is_neutralised() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert spreadsheet_safe(f"{start}cmd") == f"'{start}cmd"
    assert spreadsheet_safe("Riverside Hospital") == "Riverside Hospital"
    assert spreadsheet_safe("") == ""


# 8. Files -----------------------------------------------------------------------------------


@pytest.fixture
def usual_umask() -> Iterator[None]:
    earlier = os.umask(0o022)  # files would be 0644 unless the app asks for less
    yield
    os.umask(earlier)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
def test_database_journals_and_folder_are_private(tmp_path: Path) -> None:
    database = tmp_path / "data" / "survey.sqlite3"
    from app import migrating

    migrating.upgrade(f"sqlite:///{database}")
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO partnership (name, kind, created_at) "
                "VALUES ('P', 'other', CURRENT_TIMESTAMP)"
            )
        )
        connection.commit()
        for suffix in ("", "-wal", "-shm"):
            journal = database.with_name(database.name + suffix)
            assert journal.exists() and _mode(journal) == 0o600, suffix
    engine.dispose()
    assert _mode(database.parent) == 0o700
    database.chmod(0o644)  # an older version's file is tightened on the next start
    make_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600


@pytest.mark.usefixtures("usual_umask")
def test_backups_are_private(migrated_url: str, tmp_path: Path) -> None:
    if not is_sqlite(migrated_url) and not _has_pg_dump():
        pytest.skip("pg_dump is not installed")
    archive = tmp_path / "backups" / "survey.backup"
    backup_database(migrated_url, archive)
    assert _mode(archive) == 0o600


def _has_pg_dump() -> bool:
    import shutil

    return shutil.which("pg_dump") is not None
