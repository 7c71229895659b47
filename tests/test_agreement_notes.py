"""The agreement page says each caution about ICC(1) and ICC(2) once, in plain words: with
one partnership every scale has the same reason for no ICC, and the page gives it once."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from analysis.agreement import intraclass_correlations
from app.services.accounts import add_account
from app.services.analyst import ScaleAgreement
from app.web.agreement_notes import icc_notes, plain_words
from tests.test_reports_support import PASSWORD, seeded_demo_round, sign_in


def _caution(scores: list[float], groups: list[str]) -> str:
    """The analysis's own words for scores whose ICC cannot be computed."""
    with pytest.raises(ValueError) as raised:
        intraclass_correlations(pd.Series(scores), pd.Series(groups))
    return str(raised.value)


CAUTIONS = {
    "one group": _caution([1.0, 2.0, 3.0], ["a", "a", "a"]),
    "one score each": _caution([1.0, 2.0], ["a", "b"]),
    "all alike": _caution([2.0, 2.0, 2.0, 2.0], ["a", "a", "b", "b"]),
    "same means": _caution([1.0, 3.0, 1.0, 3.0], ["a", "a", "b", "b"]),
}


@pytest.mark.parametrize("name", sorted(CAUTIONS))
def test_each_caution_of_the_analysis_has_plain_words(name: str) -> None:
    words = plain_words(CAUTIONS[name])
    assert words.startswith("ICC(1) and ICC(2) are not given: "), words
    assert "group" not in words and "undefined" not in words, words


def test_a_negative_icc_is_said_in_plain_words() -> None:
    scores = pd.Series([1.0, 5.0, 1.2, 5.0, 1.0, 4.6])
    result = intraclass_correlations(scores, pd.Series(["a", "a", "b", "b", "c", "c"]))
    assert result.warnings
    (words,) = [plain_words(w) for w in result.warnings]
    assert "below 0" in words and "no difference between partnerships" in words


def _scale(name: str, error: str | None) -> ScaleAgreement:
    return ScaleAgreement(name.lower(), name, ("q1",), 5, (), None, error)


def test_a_caution_shared_by_every_scale_is_one_note_for_all() -> None:
    one = CAUTIONS["one group"]
    notes = icc_notes([_scale("Trust", one), _scale("Respect", one), _scale("Risk", one)])
    assert [(n.words, n.scales) for n in notes] == [(plain_words(one), ())]


def test_different_cautions_each_name_their_scales() -> None:
    notes = icc_notes(
        [
            _scale("Trust", CAUTIONS["all alike"]),
            _scale("Respect", CAUTIONS["same means"]),
            _scale("Risk", CAUTIONS["all alike"]),
        ]
    )
    assert [n.scales for n in notes] == [("Trust", "Risk"), ("Respect",)]


def test_the_page_gives_the_one_partnership_caution_once(
    client: TestClient, session: Session
) -> None:
    seeded_demo_round(session)
    add_account(session, "analyst@example.org", PASSWORD, "analyst")
    sign_in(client, "analyst@example.org")
    page = client.get("/analyst/agreement?action=compute")
    assert page.status_code == 200
    text = page.text
    expected = plain_words(CAUTIONS["one group"])
    assert text.count("need scale scores from at least 2 partnerships") == 1, text
    assert expected in text and "only 1" in expected
    assert text.count('id="icc-notes"') == 1 and 'id="warnings"' not in text
    assert "ICC needs" not in text and "groups" not in text
