"""Any instrument, any version: a round on the Recommendation 6 self-check and a round on the
new version of the main instrument beside an older round; all three report in every format.
Bad instrument files get one line naming the field, from the CLI and the admin page."""

from __future__ import annotations

import io
import random
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from analysis.instrument import instruments_dir
from app.models import Response, ResponseStatus, utc_now
from app.services import instruments, partnerships, rounds
from app.services.accounts import add_account
from app.services.errors import InstrumentRejectedError
from tests.conftest import csrf_from
from tests.test_reports_support import PASSWORD, sign_in

FILES = ["report.html", "report.pdf", "report.xlsx", "answers.csv", "scores.csv", "answers.sav"]


def _round_on(
    session: Session, partnership_id: int, instrument_id: str, version: str | None, title: str
) -> int:
    survey_round = rounds.open_round(
        session,
        partnership_id,
        title=title,
        opens_on=rounds.today() - timedelta(days=3),
        closes_on=rounds.today() + timedelta(days=3),
        anonymity_threshold=5,
        instrument_id=instrument_id,
        instrument_version=version,
    )
    assert survey_round.id is not None
    return survey_round.id


def _answer_all(session: Session, round_id: int, n: int, seed: int) -> None:
    survey_round = rounds.get_round(session, round_id)
    instrument = instruments.round_instrument(session, survey_round)
    rng = random.Random(seed)
    for _ in range(n):
        answers = {
            item.id: rng.choice(instrument.response_scale_of(item.id).values)
            for item in instrument.items
        }
        background = {
            question.id: rng.choice(question.options).value
            for question in instrument.background
            if question.kind == "choice"
        }
        session.add(
            Response(
                round_id=round_id,
                status=ResponseStatus.SUBMITTED,
                instrument_version=instrument.version,
                answers=answers,
                background=background,
                submitted_at=utc_now(),
            )
        )
    session.commit()
    rounds.close_round(session, round_id)


def test_three_instrument_versions_report_in_every_format(
    client: TestClient, session: Session
) -> None:
    partnership = partnerships.create_partnership(session, "Versions Partnership", "other")
    assert partnership.id is not None
    older = _round_on(session, partnership.id, "trustworthy-collaboration", "2017.1", "Older")
    _answer_all(session, older, 12, 1)
    newer = _round_on(session, partnership.id, "trustworthy-collaboration", None, "Newer")
    _answer_all(session, newer, 12, 2)
    check = _round_on(session, partnership.id, "partnership-self-check", None, "Self-check")
    _answer_all(session, check, 12, 3)
    assert rounds.get_round(session, newer).instrument_version == "2026.1"  # the default
    add_account(session, "an@example.org", PASSWORD, "analyst")
    sign_in(client, "an@example.org")
    for round_id in (older, newer, check):
        page = client.get(f"/reports/rounds/{round_id}")
        assert page.status_code == 200, page.text[:300]
        for name in FILES:
            got = client.get(f"/reports/rounds/{round_id}/{name}")
            assert got.status_code == 200, (round_id, name)
            assert len(got.content) > 100, (round_id, name)
        data = client.get(f"/api/v1/reports/rounds/{round_id}")
        assert data.status_code == 200 and data.json()["responses"] == 12
    # the new version's report compares with the older round, scale for scale
    newer_page = client.get(f"/reports/rounds/{newer}").text
    assert "Older" in newer_page and 'id="change-table"' in newer_page
    # the self-check keeps its 1-3 scales apart from its 1-5 scale
    report = client.get(f"/api/v1/reports/rounds/{check}").json()
    profile = report["trust_profile"]
    assert {bar["response_scale"] for bar in profile} == {"yes_partly_no", "agreement5"}
    for bar in profile:
        low, high = (1, 3) if bar["response_scale"] == "yes_partly_no" else (1, 5)
        assert low <= bar["mean"] <= high
    check_page = client.get(f"/reports/rounds/{check}").text
    assert (
        "Scales answered from 1 to 3" in check_page and "Scales answered from 1 to 5" in check_page
    )
    workbook = pd.read_excel(
        io.BytesIO(client.get(f"/reports/rounds/{check}/report.xlsx").content), sheet_name=None
    )
    assert workbook
    # an instrument file changed later never changes the older round
    assert rounds.get_round(session, older).instrument_version == "2017.1"
    stored = instruments.round_instrument(session, rounds.get_round(session, older))
    assert stored.has_background("care_model")


def _bad_files(tmp_path: Path) -> dict[Path, str]:
    source = (instruments_dir() / "partnership-self-check.yaml").read_text(encoding="utf-8")
    cases = {
        "no-version.yaml": (source.replace('version: "2017.1"\n', ""), "version"),
        "bad-scale.yaml": (
            source.replace("response_scale: yes_partly_no\n", "response_scale: nope\n", 1),
            "response_scale",
        ),
        "bad-yaml.yaml": ("id: [unclosed\n", "not valid YAML"),
        "bad-breakdown.yaml": (
            source.replace("breakdowns: [professional_role]", "breakdowns: [partnership_name]"),
            "breakdowns",
        ),
    }
    written = {}
    for name, (text, field) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        written[path] = field
    return written


def test_bad_instrument_files_get_one_line_naming_the_field(
    session: Session, tmp_path: Path
) -> None:
    for path, field in _bad_files(tmp_path).items():
        with pytest.raises(InstrumentRejectedError) as raised:
            instruments.add_instrument(session, path.read_text(encoding="utf-8"), str(path))
        message = str(raised.value)
        assert "\n" not in message and field in message and path.name in message, message


def test_an_admin_adds_an_instrument_on_the_page_and_rounds_can_use_it(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    add_account(session, "admin@example.org", PASSWORD, "admin")
    page = client.get("/sign-in")
    client.post(
        "/sign-in",
        data={
            "email": "admin@example.org",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
    )
    listing = client.get("/admin/instruments")
    assert listing.status_code == 200 and "2026.1" in listing.text
    csrf = csrf_from(listing.text)
    for path, field in _bad_files(tmp_path).items():
        answer = client.post(
            "/admin/instruments",
            data={"csrf_token": csrf},
            files={"document": (path.name, path.read_bytes(), "text/yaml")},
        )
        assert answer.status_code == 422 and "There is a problem" in answer.text
        assert field in answer.text
    text = (instruments_dir() / "partnership-self-check.yaml").read_text(encoding="utf-8")
    text = text.replace(
        'id: partnership-self-check\nversion: "2017.1"', 'id: local-check\nversion: "1"'
    )
    added = client.post(
        "/admin/instruments",
        data={"csrf_token": csrf},
        files={"document": ("local.yaml", text.encode(), "text/yaml")},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert (
        'class="nhsuk-table-responsive__heading">Id </span>local-check</td>'
        in client.get("/admin/instruments").text
    )
    partnership = partnerships.create_partnership(session, "Local", "other")
    assert partnership.id is not None
    round_id = _round_on(session, partnership.id, "local-check", "1", "Local round")
    assert (
        instruments.round_instrument(session, rounds.get_round(session, round_id)).id
        == "local-check"
    )
    changed = text.replace("title: Partnership trust self-check", "title: Changed")
    refused = client.post(
        "/admin/instruments",
        data={"csrf_token": csrf},
        files={"document": ("local.yaml", changed.encode(), "text/yaml")},
    )
    assert refused.status_code == 422 and "new version" in refused.text


def test_cli_instrument_add_gives_one_line(
    migrated_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import main

    monkeypatch.setenv("DATABASE_URL", migrated_url)
    from app.settings import get_settings

    get_settings.cache_clear()
    for path, field in _bad_files(tmp_path).items():
        code = main(["instrument", "add", str(path)])
        err = capsys.readouterr().err.strip()
        assert code != 0 and field in err and len(err.splitlines()) == 1, err


PARSER_WORDS = ("<stream end>", "<block", "expected ','", "token", "mapping values", "Traceback")


def test_bad_yaml_on_the_admin_page_is_one_plain_line_in_the_error_summary(
    client: TestClient, session: Session
) -> None:
    """Malformed YAML of every kind: the same page again (422), the NHS error summary and the
    field's own error each with one line naming the file and the line or field, never the
    parser's terms and never a server error."""
    add_account(session, "admin@example.org", PASSWORD, "admin")
    page = client.get("/sign-in")
    client.post(
        "/sign-in",
        data={
            "email": "admin@example.org",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
    )
    csrf = csrf_from(client.get("/admin/instruments").text)
    source = (instruments_dir() / "partnership-self-check.yaml").read_text(encoding="utf-8")
    cases: dict[str, tuple[bytes, str]] = {
        "unclosed.yaml": (b"id: x\nversion: [1\n", "line 2: the list opened with [ on this"),
        "colon.yaml": (b"id: x\ntitle: Trust: a check\n", "line 2: a colon (:) where none"),
        "tab.yaml": (b"id: x\n\tversion: 1\n", "line 2: a tab is used to indent"),
        "twice.yaml": (b"id: x\nid: y\n", "line 2: the field &#39;id&#39; is given twice"),
        "list.yaml": (b"- id: x\n- version: 1\n", "but it holds a list"),
        "words.yaml": (b"just some words\n", "but it holds a single value"),
        "comments.yaml": (b"# nothing but a comment\n", "but it holds nothing"),
        "no-version.yaml": (
            source.replace('version: "2017.1"\n', "").encode(),
            "no-version.yaml: version: Field required",
        ),
        "deep.yaml": (b"id: " + b"[" * 5000 + b"]" * 5000 + b"\n", "too deeply"),
        "nul.yaml": (b"id: x\x00\n", "a control character"),
        "tagged.yaml": (b"id: !!python/object/apply:os.system [true]\n", "is not allowed"),
        "latin1.yaml": ("id: café\n".encode("latin-1"), "must be UTF-8 text"),
        "big.yaml": (b"id: x\n" + b"#" * 600_000, "is too big"),
    }
    for name, (content, words) in cases.items():
        answer = client.post(
            "/admin/instruments",
            data={"csrf_token": csrf},
            files={"document": (name, content, "text/yaml")},
        )
        assert answer.status_code == 422, (name, answer.status_code)
        text = answer.text
        summary = text.split("nhsuk-error-summary__list", 1)[1].split("</ul>", 1)[0]
        inline = text.split('id="document-error"', 1)[1].split("</span>\n", 1)[0]
        for shown in (summary, inline):
            assert f"The file {name}" in shown and words in shown, (name, shown)
            assert not any(term in shown for term in PARSER_WORDS), (name, shown)
        assert 'href="#document"' in summary, summary
        assert "<h1" in text and "Add a questionnaire" in text  # the same page, the form again
