"""Coordinator pages: login, CSRF, partnership set-up, links as CSV, counts per organisation."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient

from tests.conftest import COORDINATOR_PASSWORD, csrf_from, full_answers, token_of


def _sign_in(client: TestClient, email: str) -> str:
    page = client.get("/sign-in")
    token = csrf_from(page.text)
    signed_in = client.post(
        "/sign-in",
        data={"email": email, "password": COORDINATOR_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    return csrf_from(client.get("/coordinator").text)


def test_pages_need_a_login(client: TestClient) -> None:
    answer = client.get("/coordinator", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in")


def test_wrong_password_is_refused(client: TestClient, coordinator: str) -> None:
    token = csrf_from(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in",
        data={"email": coordinator, "password": "not the password", "csrf_token": token},
    )
    assert answer.status_code == 401 and "not right" in answer.text


def test_forms_without_the_csrf_token_are_refused(client: TestClient, coordinator: str) -> None:
    refused = client.post("/sign-in", data={"email": coordinator, "password": COORDINATOR_PASSWORD})
    assert refused.status_code == 403
    _sign_in(client, coordinator)
    forged = client.post(
        "/coordinator/partnerships",
        data={"name": "Forged", "kind": "other", "csrf_token": "guess"},
    )
    assert forged.status_code == 403


def test_set_up_a_round_download_links_and_see_counts(client: TestClient, coordinator: str) -> None:
    csrf = _sign_in(client, coordinator)
    made = client.post(
        "/coordinator/partnerships",
        data={
            "name": "Estuary Alliance",
            "kind": "urgent-and-emergency-care",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    partnership_url = made.headers["location"]
    for name, kind in [("Estuary Hospital", "acute-trust"), ("Estuary Council", "local-authority")]:
        added = client.post(
            f"{partnership_url}/organisations",
            data={"name": name, "kind": kind, "csrf_token": csrf},
        )
        assert added.status_code == 200
    page = client.get(partnership_url)
    assert "Estuary Council" in page.text and "Set up a round" in page.text
    opened = client.post(
        f"{partnership_url}/rounds",
        data={
            "title": "Winter round",
            "opens_on": "2020-01-01",
            "closes_on": "2099-01-01",
            "anonymity_threshold": "5",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert opened.status_code == 303
    round_url = opened.headers["location"]
    round_page = client.get(round_url)
    organisation_id = round_page.text.split('<option value="', 2)[2].split('"')[0]

    download = client.post(
        f"{round_url}/links",
        data={"organisation_id": organisation_id, "count": "8", "csrf_token": csrf},
    )
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 8 and rows[0]["organisation"] in {"Estuary Hospital", "Estuary Council"}
    tokens = [token_of(row["link"]) for row in rows]
    sent = client.post(f"/api/v1/survey/{tokens[0]}/response", json={"answers": full_answers()})
    assert sent.status_code == 201

    # one response: below the round's threshold of 5, so the count is not shown
    counts = client.get(round_url).text
    assert ["8", "fewer than 5", "fewer than 5", "-"] in _progress_rows(counts)
    assert "%" not in counts.split("<tbody")[1].split("</table>")[0]
    for token in tokens[1:6]:
        sent = client.post(f"/api/v1/survey/{token}/response", json={"answers": full_answers()})
        assert sent.status_code == 201
    counts = client.get(round_url).text
    rows = _progress_rows(counts)
    assert ["8", "fewer than 5", "6", "75%"] in rows
    assert rows[-1] == ["All organisations", "8", "fewer than 5", "6", "75%"]
    assert "Strongly agree" not in counts  # counts only, never answers

    too_many = client.post(
        f"{round_url}/links",
        data={"organisation_id": "", "count": "100000", "csrf_token": csrf},
    )
    assert too_many.status_code == 422
    open_link = client.post(f"{round_url}/open-link", data={"csrf_token": csrf})
    assert open_link.status_code == 200 and "/s/" in open_link.text  # shown on the round page
    closed = client.post(f"{round_url}/close", data={"csrf_token": csrf}, follow_redirects=False)
    assert closed.status_code == 303
    assert client.get(f"/s/{tokens[6]}").status_code == 403

    signed_out = client.post("/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert client.get("/coordinator", follow_redirects=False).status_code == 303


def test_bad_form_input_gets_a_page_not_a_500(client: TestClient, coordinator: str) -> None:
    csrf = _sign_in(client, coordinator)
    answer = client.post(
        "/coordinator/partnerships", data={"name": "", "kind": "other", "csrf_token": csrf}
    )
    assert answer.status_code == 422 and "<html" in answer.text
    assert client.get("/coordinator/rounds/99999999999").status_code == 404  # no such id
    assert client.get("/coordinator/rounds/12345").status_code == 404


def _progress_rows(page: str) -> list[list[str]]:
    """The progress table's cells as read (the phone layout's column names left out); the
    organisation's name left out of every row but the total."""
    table = page.split('id="progress"')[1].split("</table>")[0]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody")[1], re.S):
        cells = [
            re.sub(
                r"<[^>]+>",
                "",
                re.sub(r'<span class="nhsuk-table-responsive__heading"[^>]*>.*?</span>', "", cell),
            ).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        rows.append(cells if cells[0] == "All organisations" else cells[1:])
    return rows
