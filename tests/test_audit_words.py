"""The audit trail's page says each action and detail in words; the trail and its CSV keep
the raw values the filters, the API and scripts match on."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models import ReleasePolicy
from app.services import audit, partnerships
from app.services.accounts import add_account
from app.services.audit import AuditAction
from app.web.audit_words import ACTION_LABELS, action_label, detail_words
from tests.test_reports_support import PASSWORD, sign_in

KINDS = {"local-authority": "Local authority"}
TITLES = {"trustworthy-collaboration": "Trustworthy collaboration"}


def test_every_action_has_its_own_label_in_words() -> None:
    assert set(ACTION_LABELS) == set(AuditAction)
    labels = list(ACTION_LABELS.values())
    assert len(set(labels)) == len(labels)
    for label in labels:
        assert label[0].isupper() and "_" not in label, label


def test_an_unknown_action_of_an_older_trail_is_shown_as_stored() -> None:
    assert action_label("something retired") == "Something retired"
    assert detail_words("something retired", "x-y", KINDS, TITLES) == "x-y"


def test_details_are_said_in_words() -> None:
    def words(action: AuditAction, detail: str) -> str:
        return detail_words(action.value, detail, KINDS, TITLES)

    assert words(AuditAction.ORGANISATION_ADDED, "local-authority") == "Local authority"
    assert words(AuditAction.PARTNERSHIP_ADDED, "no-longer-offered") == "no-longer-offered"
    assert (
        words(AuditAction.ROUND_ADDED, "trustworthy-collaboration 2026.1, threshold 5, at-close")
        == "Trustworthy collaboration, version 2026.1; anonymity threshold 5; "
        "results when the round closes"
    )
    assert (
        words(AuditAction.RELEASE_POLICY_CHANGED, f"at-close -> {ReleasePolicy.INTERIM.value}")
        == "from results when the round closes to interim results while it is open"
    )
    assert words(AuditAction.THRESHOLD_CHANGED, "5 -> 7") == "from 5 to 7"
    assert words(AuditAction.ROUND_RENAMED, "Spring -> Autumn") == "from Spring to Autumn"
    assert words(AuditAction.REPORT_VIEWED, "JSON") == "as JSON, through the API"
    assert (
        words(AuditAction.PASSWORD_CHANGED, "through an e-mailed link (reset)")
        == "through the e-mailed link of a forgotten password"
    )
    assert words(AuditAction.LINKS_MADE, "open link") == "open link"


def test_the_page_shows_words_and_the_csv_keeps_the_raw_values(
    client: TestClient, session: Session
) -> None:
    add_account(session, "admin@example.org", PASSWORD, "admin")
    kind = next(iter(partnerships.attribute_labels(session, "partnership_attribute")))
    label = partnerships.attribute_labels(session, "partnership_attribute")[kind]
    assert kind != label
    partnerships.create_partnership(session, "North Vale", kind)
    audit.record(session, "command line", AuditAction.THRESHOLD_CHANGED, "round 1", detail="5 -> 7")
    sign_in(client, "admin@example.org")
    page = client.get("/admin/audit").text
    assert "Partnership added" in page and label in page and f">{kind}<" not in page
    assert "Anonymity threshold changed" in page and "from 5 to 7" in page
    assert "Signed in" in page and ">Sign-in<" not in page
    assert f'<option value="{AuditAction.SIGN_IN.value}"' in page  # the filter sends raw values
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/audit.csv").text)))
    added = next(r for r in rows if r["action"] == AuditAction.PARTNERSHIP_ADDED.value)
    assert added["detail"] == kind
    changed = next(r for r in rows if r["action"] == AuditAction.THRESHOLD_CHANGED.value)
    assert changed["detail"] == "5 -> 7"
