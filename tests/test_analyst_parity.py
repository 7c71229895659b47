"""Issue 14: one set of rules for every entry point.  The same request gives the same figures
through the command line (run on a CSV of the same pooled published answers), the analyst
pages and the API, for alpha (keyed listwise by default, and raw pairwise), omega, factor
loadings and agreement; the figures are checked against independent computations (pingouin
for alpha, a hand rwg(j) and a hand one-way ANOVA for ICC(1)/ICC(2)); bad input is a 422
naming the field, on the page with an error summary and the input kept."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.cli import main
from app.instruments import instrument_named
from app.models import Response
from app.services import analyst
from app.services.accounts import add_account, coordinator_by_email
from app.services.reports import viewer_for
from app.services.rounds import close_round
from tests.conftest import SurveySetUp
from tests.test_reports_support import PASSWORD, add_responses, seeded_demo_round, sign_in

INSTRUMENT = instrument_named("trustworthy-collaboration")
REVERSED = [item.id for item in INSTRUMENT.items if item.reverse_keyed]
ANALYST = ("an@example.org", PASSWORD)


def _answers(rng: np.random.Generator, centre: float, missing: float) -> dict[str, int]:
    """One respondent: answers near ``centre``, each item left out with chance ``missing``."""
    given: dict[str, int] = {}
    for item in INSTRUMENT.item_ids:
        if rng.random() < missing:
            continue
        given[item] = int(np.clip(round(centre + rng.normal(0, 0.9)), 1, 5))
    return given


@dataclass(frozen=True)
class Pooled:
    client: TestClient
    csv: Path
    frame: pd.DataFrame  # the pooled published answers with partnership_name
    small: str  # a partnership below its threshold of complete answers on some scale


@pytest.fixture
def pooled(
    client: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    tmp_path: Path,
) -> Pooled:
    """The demo round and three more partnerships' closed rounds, with missing answers; an
    open round with answers that must not count."""
    seeded_demo_round(session)
    rng = np.random.default_rng(14)
    made = []
    for centre, count, missing in ((2.4, 9, 0.08), (3.8, 7, 0.1), (3.0, 5, 0.0)):
        survey_round = make_round()
        answers = [_answers(rng, centre, missing) for _ in range(count)]
        add_responses(session, survey_round.round_id, answers, [{}] * count)
        made.append(survey_round)
    last = made[-1]
    # One respondent of the last (five-respondent) partnership leaves a scale's item out:
    # four complete answers on that scale, below its threshold of five.
    first = session.exec(select(Response).where(Response.round_id == last.round_id)).first()
    assert first is not None
    first.answers = {k: v for k, v in first.answers.items() if k != INSTRUMENT.scales[0].items[0]}
    session.add(first)
    session.commit()
    for survey_round in made:
        close_round(session, survey_round.round_id)
    still_open = make_round()
    add_responses(session, still_open.round_id, [_answers(rng, 1.0, 0)] * 6, [{}] * 6)
    add_account(session, ANALYST[0], PASSWORD, "analyst")
    account = coordinator_by_email(session, ANALYST[0])
    assert account is not None
    viewer = viewer_for(session, account)
    assert viewer is not None
    answers = analyst.pooled_answers(session, viewer)
    frame = answers.matrix[[*INSTRUMENT.item_ids, "partnership_name"]]
    assert len(frame) == 39 + 9 + 7 + 5 and frame[INSTRUMENT.item_ids].isna().any().any()
    csv = tmp_path / "pooled.csv"
    frame.to_csv(csv, index=False)
    sign_in(client, ANALYST[0])  # the session serves the pages and the API alike
    small = next(r.partnership.name for r in answers.included if r.survey_round.id == last.round_id)
    return Pooled(client, csv, frame, small)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code = main([*args, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    document = json.loads(captured.out)
    assert isinstance(document, dict)
    return document


def _page_figure(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, f"no #{element_id} on the page"
    return found.group(1)


def _query(items: list[str], **more: str) -> str:
    return "&".join([*(f"item={item}" for item in items), *(f"{k}={v}" for k, v in more.items())])


SCALE = next(s for s in INSTRUMENT.scales if any(i in REVERSED for i in s.items))
ITEMS = list(SCALE.items)


def test_alpha_defaults_to_keyed_listwise_everywhere_and_raw_pairwise_on_request(
    pooled: Pooled, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = str(pooled.csv)
    items = ",".join(ITEMS)
    cli = _cli(capsys, "reliability", csv, "--items", items)
    api = pooled.client.get("/api/v1/analyst/reliability?" + _query(ITEMS)).json()
    assert cli["settings"]["keying"] == api["settings"]["keying"] == "keyed"  # type: ignore[index]
    assert cli["settings"]["missing"] == api["settings"]["missing"] == api["missing"] == "listwise"  # type: ignore[index]
    assert api["settings"]["reverse_keyed"] == [i for i in ITEMS if i in REVERSED] != []
    for key in ("alpha", "standardized_alpha", "n", "k", "ci", "warnings"):
        assert api[key] == pytest.approx(cli[key], abs=1e-12), key
    assert [i["mean"] for i in api["items"]] == pytest.approx(
        [i["mean"] for i in cli["items"]]  # type: ignore[union-attr]
    )
    # Independent: pingouin's alpha of the keyed, complete answers.
    keyed = pooled.frame[ITEMS].astype(float)
    for item in ITEMS:
        if item in REVERSED:
            keyed[item] = 6 - keyed[item]
    complete = keyed.dropna()
    reference, _ = pingouin.cronbach_alpha(complete)
    assert api["alpha"] == pytest.approx(reference, abs=1e-10)
    assert api["n"] == len(complete) < len(pooled.frame)
    page = pooled.client.get("/analyst/reliability?" + _query(ITEMS)).text
    assert _page_figure(page, "alpha").startswith(f"{reference:.3f} (95% CI")
    assert "Keying: keyed (the default): reverse-keyed" in page
    assert "Missing answers: listwise (the default)" in page

    raw = _cli(
        capsys, "reliability", csv, "--items", items, "--keying", "raw", "--missing", "pairwise"
    )
    api_raw = pooled.client.get(
        "/api/v1/analyst/reliability?" + _query(ITEMS, keying="raw", missing="pairwise")
    ).json()
    assert api_raw["settings"] == {
        "instrument": INSTRUMENT.id,
        "keying": "raw",
        "reverse_keyed": [],
        "missing": "pairwise",
    }
    for key in ("alpha", "standardized_alpha", "n", "ci"):
        assert api_raw[key] == pytest.approx(raw[key], abs=1e-12), key
    assert api_raw["alpha"] != pytest.approx(api["alpha"], abs=1e-3)
    raw_page = pooled.client.get(
        "/analyst/reliability?" + _query(ITEMS, keying="raw", missing="pairwise")
    ).text
    assert _page_figure(raw_page, "alpha").startswith(f"{api_raw['alpha']:.3f}")
    assert (
        "Keying: raw" in raw_page
        and 'id="missing-pairwise" name="missing" type="radio" value="pairwise" checked' in raw_page
    )


def test_omega_is_seeded_and_the_same_everywhere(
    pooled: Pooled, capsys: pytest.CaptureFixture[str]
) -> None:
    items = INSTRUMENT.scales[1].items if len(INSTRUMENT.scales[1].items) >= 3 else ITEMS
    chosen = list(items)
    cli = _cli(capsys, "omega", str(pooled.csv), "--items", ",".join(chosen), "--bootstrap", "100")
    url = "/api/v1/analyst/omega?" + _query(chosen, bootstrap="100")
    api = pooled.client.get(url).json()
    assert pooled.client.get(url).json() == api  # seeded: the same request, the same figures
    for key in ("omega_total", "omega_h", "ci", "n", "k", "bootstrap", "warnings"):
        assert api[key] == pytest.approx(cli[key], abs=1e-12), key
    assert api["seed"] == 2017 and api["ci"][0] < api["omega_total"] < api["ci"][1]
    other = pooled.client.get(url + "&seed=7").json()
    assert other["omega_total"] == api["omega_total"] and other["ci"] != api["ci"]
    page = pooled.client.get("/analyst/omega?" + _query(chosen, bootstrap="100")).text
    low, high = (f"{v:.3f}" for v in api["ci"])
    assert _page_figure(page, "omega") == (
        f"{api['omega_total']:.3f} (95% CI {low} to {high}, percentile bootstrap of 100 "
        "resamples, seed 2017)"
    )


@pytest.mark.parametrize(("method", "rotation"), [("minres", "oblimin"), ("ml", "none")])
def test_factor_loadings_are_the_same_everywhere(
    pooled: Pooled, capsys: pytest.CaptureFixture[str], method: str, rotation: str
) -> None:
    chosen = [i for s in INSTRUMENT.scales[:2] for i in s.items]
    args = ["--factors", "2", "--method", method, "--rotation", rotation, "--missing", "pairwise"]
    cli = _cli(capsys, "factor", str(pooled.csv), "--items", ",".join(chosen), *args)
    query = _query(chosen, factors="2", method=method, rotation=rotation, missing="pairwise")
    api = pooled.client.get("/api/v1/analyst/factor?" + query).json()
    assert api["method"] == method and api["n_factors"] == 2
    for item in chosen:
        assert api["loadings"][item] == pytest.approx(cli["loadings"][item], abs=1e-9)  # type: ignore[index]
    assert api["ss_loadings"] == pytest.approx(cli["ss_loadings"], abs=1e-9)
    page = pooled.client.get("/analyst/factor?" + query).text
    first = api["loadings"][chosen[0]]
    row = re.search(rf'<th scope="row">{chosen[0]}</th>((?:<td>[^<]*</td>)+)', page)
    assert row is not None
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
    assert cells[:2] == [f"{v:.3f}".replace("-0.000", "0.000") for v in first]


def _hand_rwg(frame: pd.DataFrame, items: list[str], options: int) -> dict[str, tuple[int, float]]:
    null = (options**2 - 1) / 12
    result = {}
    for name, members in frame.groupby("partnership_name"):
        complete = members[items].dropna()
        mean_variance = min(float(complete.var(ddof=1).mean()), null)
        j = len(items)
        value = (
            j * (1 - mean_variance / null) / (j * (1 - mean_variance / null) + mean_variance / null)
        )
        result[str(name)] = (len(complete), value)
    return result


def _hand_icc(scores: pd.Series, groups: pd.Series) -> tuple[float, float]:
    keep = scores.notna()
    scores, groups = scores[keep], groups[keep]
    grand = scores.mean()
    names = groups.unique()
    between = sum((groups == g).sum() * (scores[groups == g].mean() - grand) ** 2 for g in names)
    within = sum(((scores[groups == g] - scores[groups == g].mean()) ** 2).sum() for g in names)
    ms_b, ms_w = between / (len(names) - 1), within / (len(scores) - len(names))
    size = len(scores) / len(names)
    return (ms_b - ms_w) / (ms_b + (size - 1) * ms_w), (ms_b - ms_w) / ms_b


def test_agreement_is_the_same_everywhere_and_withholds_small_partnerships(
    pooled: Pooled, capsys: pytest.CaptureFixture[str]
) -> None:
    scale = INSTRUMENT.scales[0]
    cli = _cli(
        capsys, "agreement", str(pooled.csv), "--group", "partnership_name", "--scales", scale.id
    )
    api = pooled.client.get(f"/api/v1/analyst/agreement?scale={scale.id}").json()
    [from_cli] = cli["scales"]  # type: ignore[misc]
    [from_api] = api["scales"]
    keyed = pooled.frame.copy()
    for item in scale.items:
        if item in REVERSED:
            keyed[item] = 6 - keyed[item]
    hand = _hand_rwg(keyed, list(scale.items), 5)
    by_cli = {g["group"]: g for g in from_cli["rwg_j"]}
    shown = {g["partnership"]: g for g in from_api["rwg_j"]}
    assert set(shown) == set(hand) == set(by_cli)
    for name, (n, value) in hand.items():
        assert shown[name]["n"] == by_cli[name]["n"] == n
        if name == pooled.small:
            assert n == 4 and api["thresholds"][name] == 5
            assert shown[name]["rwg_j"] is None and "anonymity threshold" in shown[name]["note"]
            assert by_cli[name]["rwg_j"] is not None  # the CLI's file is the analyst's own
        else:
            assert shown[name]["rwg_j"] == pytest.approx(value, abs=1e-12)
            assert by_cli[name]["rwg_j"] == pytest.approx(value, abs=1e-12)
    icc1, icc2 = _hand_icc(
        keyed[list(scale.items)]
        .mean(axis=1)
        .where(keyed[list(scale.items)].notna().sum(axis=1) >= scale.required_answers),
        keyed["partnership_name"],
    )
    assert from_api["icc"]["icc1"] == pytest.approx(icc1, abs=1e-12)
    assert from_api["icc"]["icc2"] == pytest.approx(icc2, abs=1e-12)
    for key, value in from_cli["icc"].items():
        assert from_api["icc"][key] == pytest.approx(value, abs=1e-12), key
    page = pooled.client.get(f"/analyst/agreement?scale={scale.id}").text
    assert f"ICC(1) {icc1:.3f}, ICC(2) {icc2:.3f}" in page
    small_row = re.search(rf"<th scope=\"row\">{pooled.small}</th><td>4</td><td>([^<]*)</td>", page)
    assert small_row is not None and small_row.group(1) == "-"


FORWARD = [i for i in INSTRUMENT.item_ids if i not in REVERSED]
A, B, C = FORWARD[:3]


@pytest.mark.parametrize(
    ("path", "query", "field", "words"),
    [
        ("reliability", f"item={A}&item=nope", "item", "nope"),
        ("reliability", f"item={A}", "item", f"at least two items (only {A} is chosen)"),
        ("omega", f"item={A}&item={B}", "item", "at least three items"),
        ("factor", f"item={A}&item={B}&item={C}&factors=3", "factors", "between 1 and 2 factors"),
        ("reliability", f"item={A}&item={B}&round=999999", "round", "999999"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    pooled: Pooled, path: str, query: str, field: str, words: str
) -> None:
    answer = pooled.client.get(f"/api/v1/analyst/{path}?{query}")
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]
    assert len(problems) == 1, problems
    assert problems[0]["loc"] == ["query", field] and words in problems[0]["msg"]
    page = pooled.client.get(f"/analyst/{path}?{query}&action=compute")
    assert page.status_code == 422
    assert "nhsuk-error-summary" in page.text and words in page.text
    assert 'id="result"' not in page.text


def _closed_round(
    session: Session, make_round: Callable[..., SurveySetUp], rows: list[dict[str, float]]
) -> int:
    survey_round = make_round()
    answers = [{k: int(v) for k, v in row.items() if not np.isnan(v)} for row in rows]
    add_responses(session, survey_round.round_id, answers, [{}] * len(rows))
    close_round(session, survey_round.round_id)
    return survey_round.round_id


def _rows(columns: dict[str, np.ndarray]) -> list[dict[str, float]]:
    return pd.DataFrame(columns).to_dict("records")  # type: ignore[return-value]


def test_too_few_respondents_no_overlap_and_non_psd_are_422s_as_the_cli_refuses(
    pooled: Pooled,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nan = np.nan
    few = _closed_round(
        session,
        make_round,
        _rows(
            {
                A: np.array([1, 2, nan, nan, nan, 4]),
                B: np.array([2, 3, 4, 5, 1, nan]),
                C: np.array([1, 5, 2, 4, 3, 3]),
            }
        ),
    )
    rng = np.random.default_rng(1)  # the command-line test's non-positive-definite pattern
    a = rng.integers(2, 5, 30).astype(float)
    b = a.copy()
    b[::3] = 3
    c = np.full(30, np.nan)
    a[:4] = b[:4] = c[:4] = [1, 1, 5, 5]
    psd = _closed_round(session, make_round, _rows({A: a, B: b, C: c}))
    cases = [
        (
            "factor",
            f"item={A}&item={B}&item={C}&round={few}",
            "needs at least 3 respondents with answers (listwise), got 2",
        ),
        (
            "factor",
            f"item={A}&item={B}&item={C}&round={few}&missing=pairwise",
            f"{A} and {B} were answered together by only 2 respondents",
        ),
        (
            "reliability",
            f"item={A}&item={B}&item={C}&round={psd}&missing=pairwise",
            "the pairwise covariance matrix is not positive semi-definite",
        ),
    ]
    for path, query, words in cases:
        answer = pooled.client.get(f"/api/v1/analyst/{path}?{query}")
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["detail"]
        assert problem["loc"] == ["query", "item"] and words in problem["msg"], problem
        page = pooled.client.get(f"/analyst/{path}?{query}")
        assert page.status_code == 422 and words in page.text
    # The command line refuses the same published answers with the same message.
    frame = pd.DataFrame({A: a, B: b, C: c})
    path = tmp_path / "psd.csv"
    frame.to_csv(path, index=False)
    code = main(["reliability", str(path), "--items", f"{A},{B},{C}", "--missing", "pairwise"])
    message = capsys.readouterr().err
    api = pooled.client.get(f"/api/v1/analyst/reliability?{cases[2][1]}").json()
    assert code == 2 and message.strip().endswith(api["detail"][0]["msg"])


def test_warnings_of_the_result_are_passed_through(
    pooled: Pooled, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """Items that covary negatively: alpha is a figure with a warning, on the page and API."""
    base = np.array([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 2, 4], dtype=float)
    noise = np.array([0, 1, 0, -1, 0, 1, 0, 0, -1, 0, 1, 0], dtype=float)
    opposite = _closed_round(
        session,
        make_round,
        _rows({A: base, B: np.clip(base + noise, 1, 5), C: np.clip(6 - base - noise, 1, 5)}),
    )
    query = f"item={A}&item={B}&item={C}&round={opposite}&keying=raw"
    api = pooled.client.get("/api/v1/analyst/reliability?" + query).json()
    assert api["alpha"] < 0
    [warning] = api["warnings"]
    assert warning.startswith("alpha is negative") and C in warning
    page = pooled.client.get("/analyst/reliability?" + query).text
    assert 'id="warnings"' in page and "alpha is negative" in page
    omega = pooled.client.get("/api/v1/analyst/omega?" + query + "&bootstrap=0").json()
    assert any("loads negatively" in w for w in omega["warnings"])


def test_the_page_keeps_the_input_and_says_what_is_wrong(pooled: Pooled) -> None:
    nothing = pooled.client.get("/analyst/reliability?action=compute&keying=raw&missing=pairwise")
    assert nothing.status_code == 422
    assert "There is a problem" in nothing.text
    assert f'href="#item-{INSTRUMENT.items[0].id}"' in nothing.text
    assert 'value="raw" checked' in nothing.text and 'value="pairwise" checked' in nothing.text
    one = pooled.client.get(f"/analyst/reliability?action=compute&item={A}")
    assert f'value="{A}" checked' in one.text and f"only {A} is chosen" in one.text
    first_visit = pooled.client.get("/analyst/reliability")
    assert first_visit.status_code == 200 and "There is a problem" not in first_visit.text
    filled = pooled.client.get(f"/analyst/reliability?action=fill&scale={SCALE.id}")
    assert filled.status_code == 200
    assert all(f'value="{i}" checked' in filled.text for i in SCALE.items)
    assert filled.text.index('id="result"') < filled.text.index(
        '<form method="get"'
    )  # result at the top
    api = pooled.client.get("/api/v1/analyst/reliability?" + _query(ITEMS)).json()
    assert _page_figure(filled.text, "alpha").startswith(f"{api['alpha']:.3f}")


def test_every_analyst_route_declares_its_response_model(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    analyst_paths = {p: v for p, v in paths.items() if p.startswith("/api/v1/analyst/")}
    assert set(analyst_paths) == {
        f"/api/v1/analyst/{name}"
        for name in ("pooled", "reliability", "omega", "factor", "agreement")
    }
    for path, operations in analyst_paths.items():
        schema = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema.get("$ref", "").startswith("#/components/schemas/"), path
    names = {q["name"] for q in paths["/api/v1/analyst/reliability"]["get"]["parameters"]}
    assert {"keying", "missing"} <= names
