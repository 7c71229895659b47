"""Bad input that tests/test_service_api.py, tests/test_cli.py and tests/test_instruments.py
do not already cover: oversized bodies (declared and chunked), several bad fields in one
request each named, bad bodies on the coordinators' API, a bad request losing nothing saved,
and malformed CSVs and instrument files given to the command line."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlmodel import Session

from analysis.demo import demo_csv_text
from analysis.instrument import instruments_dir
from app.cli import main
from app.services import invitations, responses
from app.web.security_headers import DEFAULT_MAX_BODY_BYTES
from tests.browser_support import LiveServer
from tests.conftest import COORDINATOR_PASSWORD, SurveySetUp, full_answers

TOO_LARGE = DEFAULT_MAX_BODY_BYTES + 1


def _link(session: Session, setup: SurveySetUp) -> str:
    return invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )[0]


def _unused(session: Session, token: str) -> bool:
    """The link is still unused and has no draft (read afresh from the database)."""
    invitation = invitations.invitation_for_token(session, token)
    session.refresh(invitation)
    return invitation.status == "unused" and responses.draft_of(session, invitation) is None


def _oversized_answers() -> bytes:
    """A well-formed answer body just over the limit (a long background text)."""
    body = json.dumps({"answers": full_answers(), "background": {"partnership_name": ""}})
    padding = TOO_LARGE - len(body.encode())
    return body.replace('"partnership_name": ""', f'"partnership_name": "{"x" * padding}"').encode()


# -- oversized bodies ------------------------------------------------------------------------


@pytest.mark.parametrize("method_path", ["PUT draft", "POST response"])
def test_a_body_over_the_limit_is_413_and_nothing_is_stored(
    client: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    method_path: str,
) -> None:
    token = _link(session, make_round())
    method, path = method_path.split()
    body = _oversized_answers()
    assert len(body) == TOO_LARGE
    answer = client.request(
        method,
        f"/api/v1/survey/{token}/{path}",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413, answer.text
    assert "too large" in answer.json()["detail"]
    assert _unused(session, token)


def test_a_body_of_unknown_length_over_the_limit_is_413(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """No Content-Length: the body is counted as it arrives."""
    token = _link(session, make_round())
    body = _oversized_answers()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    answer = client.post(
        f"/api/v1/survey/{token}/response",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413, answer.text
    assert _unused(session, token)


def test_coordinator_api_and_forms_refuse_oversized_bodies(
    client: TestClient, coordinator: str
) -> None:
    auth = (coordinator, COORDINATOR_PASSWORD)
    big = json.dumps({"name": "x" * TOO_LARGE, "kind": "other"}).encode()
    answer = client.post(
        "/api/v1/partnerships",
        content=big,
        headers={"content-type": "application/json"},
        auth=auth,
    )
    assert answer.status_code == 413
    assert client.get("/api/v1/partnerships", auth=auth).json() == []
    form = client.post(
        "/sign-in",
        content=b"email=" + b"a" * TOO_LARGE,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413
    assert "too large" in form.text


def _chunked_post(base_url: str, path: str, body: bytes) -> tuple[int, bytes]:
    """POST with Transfer-Encoding: chunked over a real socket (no Content-Length)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        try:
            for start in range(0, len(body), 32 * 1024):
                chunk = body[start : start + 32 * 1024]
                connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            connection.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the whole body is sent
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_real_server_refuses_a_chunked_body_over_the_limit(live_server: LiveServer) -> None:
    token = live_server.respondent_link.rsplit("/s/", 1)[1]
    path = f"/api/v1/survey/{token}/response"
    status, body = _chunked_post(live_server.base_url, path, _oversized_answers())
    assert status == 413, body[:300]
    assert b"too large" in body
    # the same link still works: a chunked body within the limit is read and stored
    small = json.dumps({"answers": full_answers(3)}).encode()
    status, body = _chunked_post(live_server.base_url, path, small)
    assert status == 201, body[:300]


# -- a message per field ---------------------------------------------------------------------


def test_every_bad_field_of_one_request_is_named(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    body = {
        "answers": {"q10": 9, "q11": "four", "q99": 3, "q16": 2.5},
        "background": {"care_model": "hospital", "shoe_size": "9", "professional_role": 7},
    }
    answer = client.put(f"/api/v1/survey/{token}/draft", json=body)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    named = {tuple(d["loc"][1:]) for d in detail}
    # wrong types are caught by the schema first; each of them is named
    assert {("answers", "q11"), ("answers", "q16"), ("background", "professional_role")} <= named
    assert all(d["msg"] for d in detail)
    # with the types right, the service names each remaining field once, with its own message
    body["answers"] = {"q10": 9, "q99": 3, "q16": 0}
    body["background"] = {"care_model": "hospital", "shoe_size": "9"}
    detail = client.put(f"/api/v1/survey/{token}/draft", json=body).json()["detail"]
    messages = {tuple(d["loc"]): d["msg"] for d in detail}
    assert set(messages) == {
        ("body", "answers", "q10"),
        ("body", "answers", "q99"),
        ("body", "answers", "q16"),
        ("body", "background", "care_model"),
        ("body", "background", "shoe_size"),
    }, messages
    assert "9" in messages[("body", "answers", "q10")]
    assert "unknown" in messages[("body", "answers", "q99")]
    assert "one of" in messages[("body", "background", "care_model")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": None}, "answers"),
        ({"answers": {"q10": [4]}}, "q10"),
        ({"answers": {"q10": {"value": 4}}}, "q10"),
        ({"background": {"partnership_name": 12}}, "partnership_name"),
        ({"background": {"partnership_name": "x" * 5000}}, "partnership_name"),
        ({"background": []}, "background"),
    ],
)
def test_wrong_shapes_are_422_naming_the_field(
    client: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    body: dict[str, object],
    field: str,
) -> None:
    token = _link(session, make_round())
    answer = client.post(f"/api/v1/survey/{token}/response", json=body)
    assert answer.status_code == 422, answer.text
    assert any(d["loc"][-1] == field for d in answer.json()["detail"]), answer.json()


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        ("/api/v1/partnerships", {"name": "", "kind": 3}, {"name", "kind"}),
        ("/api/v1/partnerships", {"name": "<b>x</b>\x00", "colour": "red"}, {"name", "colour"}),
        (
            "/api/v1/partnerships/{partnership}/rounds",
            {"title": "Spring", "opens_on": "2026-02-30", "closes_on": "soon"},
            {"opens_on", "closes_on"},
        ),
        (
            "/api/v1/partnerships/{partnership}/rounds",
            {"title": "Spring", "opens_on": "2026-05-01", "closes_on": "2026-04-01"},
            {"closes_on"},
        ),
        (
            "/api/v1/partnerships/{partnership}/organisations",
            {"name": "x" * 201, "kind": ""},
            {"name", "kind"},
        ),
        ("/api/v1/rounds/{round}/links", {"count": 0, "organisation_id": "a"}, {"count"}),
    ],
)
def test_coordinator_api_names_each_bad_field(
    client: TestClient,
    session: Session,
    coordinator: str,
    make_round: Callable[..., SurveySetUp],
    path: str,
    body: dict[str, object],
    fields: set[str],
) -> None:
    from app.services.accounts import coordinator_by_email, grant_partnership

    setup = make_round()
    auth = (coordinator, COORDINATOR_PASSWORD)
    account = coordinator_by_email(session, coordinator)
    assert account is not None
    grant_partnership(session, account, setup.partnership_id)
    url = path.format(partnership=setup.partnership_id, round=setup.round_id)
    answer = client.post(url, json=body, auth=auth)
    assert answer.status_code == 422, answer.text
    named = {d["loc"][-1] for d in answer.json()["detail"]}
    assert fields <= named, answer.json()


# -- nothing saved is lost -------------------------------------------------------------------


def test_a_bad_request_leaves_the_saved_draft_as_it_was(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    url = f"/api/v1/survey/{token}"
    saved = {"answers": {"q10": 2, "q11": 5}, "background": {"care_model": "other"}}
    first = client.put(f"{url}/draft", json=saved)
    assert first.status_code == 200
    before = first.json()["saved"]
    assert before["answers"] == {"q10": 2, "q11": 5}
    assert before["background"]["care_model"] == "other"
    code = {"X-Resume-Code": first.json()["resume_code"]}
    json_type = {"content-type": "application/json"}
    bad_requests = [
        client.put(f"{url}/draft", json={"answers": {"q10": 4, "q11": 9}}, headers=code),
        client.put(f"{url}/draft", json={"answers": {"q10": 4, "q99": 1}}, headers=code),
        client.put(f"{url}/draft", json={"answers": {"q10": "4"}}, headers=code),
        client.put(f"{url}/draft", json={"background": {"care_model": "nope"}}, headers=code),
        client.put(f"{url}/draft", content=b"{broken", headers=json_type | code),
        client.put(f"{url}/draft", content=_oversized_answers(), headers=code),
        client.post(f"{url}/response", json={"answers": {"q10": 4, "q11": 0}}, headers=code),
        client.post(f"{url}/response", json={"answers": {"q10": 4}}, headers=code),  # incomplete
    ]
    assert [r.status_code for r in bad_requests] == [422] * 5 + [413] + [422] * 2
    assert client.get(url, headers=code).json()["saved"] == before
    assert before["link_status"] == "started"
    # and the draft still completes into one response
    complete = {"answers": full_answers(3) | {"q10": 2, "q11": 5}}
    assert client.post(f"{url}/response", json=complete, headers=code).status_code == 201


# -- malformed files on the command line ------------------------------------------------------


def _broken_instrument(folder: Path) -> Path:
    document = yaml.safe_load(
        (instruments_dir() / "trustworthy-collaboration.yaml").read_text(encoding="utf-8")
    )
    document["scales"][1]["items"] = "q10"  # a string, not a list of items
    path = folder / "broken-instrument.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _csv_variant(folder: Path, name: str, change: Callable[[list[str]], None]) -> Path:
    lines = demo_csv_text().splitlines()
    change(lines)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _unclosed_quote(lines: list[str]) -> None:
    lines[3] = lines[3].replace(",", ',"', 1)


def _extra_cells(lines: list[str]) -> None:
    lines[2] += ",9,9"


def _duplicate_column(lines: list[str]) -> None:
    header = lines[0].split(",")
    header[2] = header[1]
    lines[0] = ",".join(header)


def _header_only(lines: list[str]) -> None:
    del lines[1:]


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        (
            lambda folder, demo: ["analyse", demo, "--instrument", str(_broken_instrument(folder))],
            "broken-instrument.yaml: scales[1]",
        ),
        (
            lambda folder, demo: ["analyse", demo, "--instrument", str(folder / "none.yaml")],
            "none.yaml: no such instrument",
        ),
        (
            lambda folder, demo: [
                "frequencies",
                demo,
                "--items",
                "q10",
                "--instrument",
                str(_broken_instrument(folder)),
            ],
            "broken-instrument.yaml: scales[1]",
        ),
        (
            lambda folder, _: ["analyse", str(_csv_variant(folder, "q.csv", _unclosed_quote))],
            "q.csv: not a readable CSV file",
        ),
        (
            lambda folder, _: ["analyse", str(_csv_variant(folder, "e.csv", _extra_cells))],
            "line 3 has 29 fields but the header has 27",
        ),
        (
            lambda folder, _: ["analyse", str(_csv_variant(folder, "d.csv", _duplicate_column))],
            "column partnership_name appears more than once",
        ),
        (
            lambda folder, _: [
                "reliability",
                str(_csv_variant(folder, "d.csv", _duplicate_column)),
                "--items",
                "q10,q11",
            ],
            "column partnership_name appears more than once",
        ),
        (
            lambda folder, _: ["analyse", str(_csv_variant(folder, "h.csv", _header_only))],
            "h.csv",
        ),
    ],
)
def test_malformed_files_get_one_line_naming_file_and_field(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_args: Callable[[Path, str], list[str]],
    expected: str,
) -> None:
    demo = tmp_path / "demo.csv"
    demo.write_text(demo_csv_text(), encoding="utf-8")
    args = make_args(tmp_path, str(demo))
    code = main(args)
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"trust-survey {args[0]}: error: "), lines[0]
    assert expected in lines[0], lines[0]
    assert captured.out == ""
