"""The privacy notice is built from the settings, public, and linked from the start page and
every page's footer; the start page says submitted answers cannot be withdrawn."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.main import create_app
from app.services import invitations
from app.settings import Settings
from app.web.privacy_pages import period_in_words
from tests.conftest import TEST_SECRET, SurveySetUp


@pytest.fixture
def notice_client(migrated_url: str) -> Iterator[TestClient]:
    settings = Settings(
        environment="test",
        database_url=migrated_url,
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        data_controller="Hillshire Integrated Care Board",
        privacy_contact="ig@hillshire.example.nhs.uk",
        dpo_contact="dpo@hillshire.example.nhs.uk",
        response_retention_days=730,
        draft_grace_days=14,
        audit_retention_days=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_notice_says_what_the_settings_say(notice_client: TestClient) -> None:
    page = notice_client.get("/privacy")
    assert page.status_code == 200
    text = page.text
    for expected in [
        "Hillshire Integrated Care Board",
        "ig@hillshire.example.nhs.uk",
        "dpo@hillshire.example.nhs.uk",
        "Public task (UK GDPR Article 6(1)(e))",
        "deleted 2 years after the survey closes",
        "deleted 14 days after the survey closes",
        "kept until it is deleted by an administrator",  # AUDIT_RETENTION_DAYS=0
        "cannot withdraw answers once submitted",
        "ico.org.uk",
        "at least 5 people",
    ]:
        assert expected in text, expected
    assert 'href="/privacy"' in text  # the footer


def test_period_in_words() -> None:
    assert period_in_words(1095) == "3 years"
    assert period_in_words(365) == "1 year"
    assert period_in_words(30) == "30 days"
    assert period_in_words(1) == "1 day"


def test_the_start_page_links_the_notice_and_says_answers_cannot_be_withdrawn(
    notice_client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    (token,) = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )
    page = notice_client.get(f"/s/{token}")
    assert page.status_code == 200
    assert "Once you submit, you cannot withdraw your answers" in page.text
    assert page.text.count('href="/privacy"') >= 2  # the start page's own link and the footer


def test_a_deployment_that_names_no_controller_says_so_and_whom_to_ask(
    migrated_url: str,
) -> None:
    """DATA_CONTROLLER unset: the notice says plainly that no controller has been named yet
    and whom to ask, never a stand-in that reads like a real name."""
    settings = Settings(
        environment="test",
        database_url=migrated_url,
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
    )
    assert settings.data_controller is None
    with TestClient(create_app(settings)) as client:
        text = client.get("/privacy").text
    controller = text.split('id="data-controller">', 1)[1].split("</dd>", 1)[0]
    assert "Not named yet" in controller
    assert "Ask the survey coordinator who sent you the link" in controller
    assert "The organisation that runs this survey" not in text
    contact = text.split('id="privacy-contact">', 1)[1].split("</dd>", 1)[0]
    assert contact.strip() == "The survey coordinator who sent you the link"


def test_a_named_controller_and_an_address_are_shown_as_set(notice_client: TestClient) -> None:
    text = notice_client.get("/privacy").text
    controller = text.split('id="data-controller">', 1)[1].split("</dd>", 1)[0]
    assert controller.strip() == "Hillshire Integrated Care Board"
    contact = text.split('id="privacy-contact">', 1)[1].split("</dd>", 1)[0]
    assert contact.strip() == "ig@hillshire.example.nhs.uk"  # an address keeps its case


def _production(migrated_url: str, **extra: object) -> Settings:
    return Settings(
        environment="production",
        database_url=migrated_url,
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        public_base_url="https://testserver",
        mail_backend="smtp",
        **extra,  # type: ignore[arg-type]
    )


def test_production_without_a_data_controller_is_warned_at_start_and_to_admins(
    migrated_url: str, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """The notice's "Not named yet" is right for a new deployment, but a live one should name
    its controller: the service says so in its log and on the admin's accounts pages."""
    from app.main import UNNAMED_DATA_CONTROLLER_WARNING
    from app.services.accounts import add_account
    from tests.test_reports_support import PASSWORD, sign_in

    add_account(session, "admin@example.org", PASSWORD, "admin")
    settings = _production(migrated_url)
    assert settings.unnamed_data_controller
    with caplog.at_level("WARNING", logger="app.main"):
        app = create_app(settings)
    assert UNNAMED_DATA_CONTROLLER_WARNING in caplog.messages
    assert "DATA_CONTROLLER" in UNNAMED_DATA_CONTROLLER_WARNING
    with TestClient(app, base_url="https://testserver") as client:
        sign_in(client, "admin@example.org")
        for path in ("/admin/accounts", "/admin/accounts/invite"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert 'id="data-controller-unset"' in page.text, path
            assert "DATA_CONTROLLER" in page.text
        assert "Not named yet" in client.get("/privacy").text


@pytest.mark.parametrize("case", ["named", "test", "development"])
def test_no_warning_once_named_or_outside_production(
    migrated_url: str, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    if case == "named":
        settings = _production(migrated_url, data_controller="Hillshire ICB")
    else:
        settings = Settings(
            environment=case,  # type: ignore[arg-type]
            database_url=migrated_url,
            secret_key=TEST_SECRET,  # type: ignore[arg-type]
        )
    assert not settings.unnamed_data_controller
    with caplog.at_level("WARNING", logger="app.main"):
        create_app(settings)
    assert not any("DATA_CONTROLLER" in message for message in caplog.messages)
