"""Issue 14 through the command line: impossible answers refused, one set of rules for every
command, input an analyst has (.xlsx, .sav, Excel's semicolon CSV with a BOM, missing-value
codes), no silently wrong number (each edge case with its exact one-line message), rounding
half up, and the new omega, factor and agreement commands in text, JSON and xlsx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from analysis.demo import demo_csv_text
from app.cli import main

TRUST_SURVEY = Path(sys.executable).with_name("trust-survey")
DEMO = demo_csv_text()
LINES = DEMO.splitlines()
HEADER = LINES[0].split(",")


def with_cell(line: int, column: str, value: str) -> str:
    """The demo CSV with the cell on file line ``line`` (1 is the header) replaced."""
    rows = [row.split(",") for row in LINES]
    rows[line - 1][HEADER.index(column)] = value
    return "\n".join(",".join(cells) for cells in rows) + "\n"


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the command in process; it must fail with exit 2 and one line; return the line."""
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"trust-survey {args[0]}: error: "), lines[0]
    return lines[0].removeprefix(f"trust-survey {args[0]}: error: ")


def succeeds(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    return captured.out


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return write(tmp_path, "demo.csv", DEMO)


# -- impossible answers ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["reliability", "frequencies", "omega", "factor"])
def test_a_seven_on_a_one_to_five_item_is_refused_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    seven = write(tmp_path, "seven.csv", with_cell(6, "q31", "7"))
    message = fails(capsys, command, str(seven), "--items", "q29,q30,q31")
    assert message == f"{seven}: line 6, column q31: 7 is outside 1-5"


def test_minus_99_is_refused_unless_declared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    coded = write(tmp_path, "coded.csv", with_cell(4, "q30", "-99"))
    assert fails(capsys, "reliability", str(coded), "--items", "q29,q30,q31,q33") == (
        f"{coded}: line 4, column q30: -99 is outside 1-5 "
        "(if it is a missing-value code, declare it as missing)"
    )
    text = succeeds(
        capsys,
        "reliability",
        str(coded),
        "--items",
        "q29,q30,q31,q33",
        "--missing-values",
        "-99,-9",
        "--format",
        "json",
    )
    document = json.loads(text)
    assert document["settings"]["missing_values"] == [-99.0, -9.0]
    # the code is a missing answer: the same figure as leaving the cell empty
    empty = write(tmp_path, "empty-cell.csv", with_cell(4, "q30", ""))
    same = json.loads(
        succeeds(
            capsys, "reliability", str(empty), "--items", "q29,q30,q31,q33", "--format", "json"
        )
    )
    assert document["alpha"] == pytest.approx(same["alpha"], abs=1e-12)
    assert document["n"] == same["n"] == 37


def test_a_truncated_row_is_an_error_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = list(LINES)
    lines[4] = ",".join(lines[4].split(",")[:10])
    truncated = write(tmp_path, "truncated.csv", "\n".join(lines) + "\n")
    expected = f"{truncated}: line 5 has 10 fields but the header has 27 (a truncated row)"
    for command in ("reliability", "frequencies", "omega"):
        assert fails(capsys, command, str(truncated), "--items", "q29,q30,q31") == expected
    assert fails(capsys, "analyse", str(truncated)) == expected


# -- input an analyst has -------------------------------------------------------------------


def _alpha(capsys: pytest.CaptureFixture[str], path: Path, *more: str) -> dict[str, object]:
    document: dict[str, object] = json.loads(
        succeeds(
            capsys,
            "reliability",
            str(path),
            "--items",
            "q29,q30,q31,q33",
            "--format",
            "json",
            *more,
        )
    )
    return document


def test_excel_semicolon_csv_with_a_bom_xlsx_and_sav_give_the_same_alpha(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    import pyreadstat

    reference = _alpha(capsys, demo)
    semicolon = tmp_path / "excel.csv"
    semicolon.write_bytes(b"\xef\xbb\xbf" + DEMO.replace(",", ";").replace("\n", "\r\n").encode())
    tab = write(tmp_path, "tabs.tsv", DEMO.replace(",", "\t"))
    frame = pd.read_csv(demo)
    workbook = tmp_path / "demo.xlsx"
    frame.to_excel(workbook, index=False)
    sav = tmp_path / "demo.sav"
    items = frame[[c for c in frame.columns if c.startswith("q")]]
    pyreadstat.write_sav(items, str(sav))
    for path in (semicolon, tab, workbook, sav):
        assert _alpha(capsys, path)["alpha"] == pytest.approx(reference["alpha"], abs=1e-12), path


def test_sav_declared_missing_values_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    import pyreadstat

    items = pd.read_csv(demo)[["q29", "q30", "q31", "q33"]].astype(float)
    items.loc[3, "q30"] = -9.0
    sav = tmp_path / "declared.sav"
    pyreadstat.write_sav(items, str(sav), missing_ranges={"q30": [-9.0]})
    document = _alpha(capsys, sav)
    assert document["settings"]["declared_missing_values"] == {"q30": ["-9"]}  # type: ignore[index]
    blank = items.copy()
    blank.loc[3, "q30"] = np.nan
    plain = tmp_path / "blank.sav"
    pyreadstat.write_sav(blank, str(plain))
    assert document["alpha"] == pytest.approx(_alpha(capsys, plain)["alpha"], abs=1e-12)
    text = succeeds(capsys, "reliability", str(sav), "--items", "q29,q30,q31,q33")
    assert "Declared missing:    q30: -9 (.sav)" in text
    # undeclared in the .sav: refused, naming the case
    undeclared = tmp_path / "undeclared.sav"
    pyreadstat.write_sav(items, str(undeclared))
    assert fails(capsys, "reliability", str(undeclared), "--items", "q29,q30,q31,q33") == (
        f"{undeclared}: case 4, column q30: -9 is outside 1-5 "
        "(if it is a missing-value code, declare it as missing)"
    )


def test_xlsx_bad_cell_names_the_spreadsheet_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    frame = pd.read_csv(demo)
    frame.loc[5, "q31"] = 9  # spreadsheet row 7: the header is row 1
    workbook = tmp_path / "bad.xlsx"
    frame.to_excel(workbook, index=False)
    assert fails(capsys, "frequencies", str(workbook), "--items", "q31") == (
        f"{workbook}: row 7, column q31: 9 is outside 1-5"
    )


# -- one set of rules -----------------------------------------------------------------------


def test_reliability_and_analyse_give_the_same_alpha_and_state_their_rules(
    capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    """Before: reliability said raw means and pairwise alpha 0.732, analyse keyed listwise
    0.736. Now both are keyed and listwise by default, and say so."""
    text = succeeds(capsys, "reliability", str(demo), "--items", "q29,q30,q31,q33")
    assert "Cronbach's alpha     0.736" in text
    assert "Keying:              keyed (the default): reverse-keyed q29, q30, q31, q33" in text
    assert "Missing answers:     listwise (the default)" in text
    assert "The Feldt CI uses n = 38, the respondents who answered every item." in text
    analysed = json.loads(succeeds(capsys, "analyse", str(demo), "--format", "json"))
    inter_org = next(s for s in analysed["table4"] if s["scale_id"] == "inter_organisational_trust")
    document = _alpha(capsys, demo)
    assert document["alpha"] == pytest.approx(inter_org["alpha"], abs=1e-12)
    raw = _alpha(capsys, demo, "--keying", "raw", "--missing", "pairwise")
    assert raw["settings"] == {  # type: ignore[comparison-overlap]
        "instrument": "trustworthy-collaboration",
        "instrument_items": ["q29", "q30", "q31", "q33"],
        "unchecked_range": [],
        "keying": "raw",
        "reverse_keyed": [],
        "missing_values": [],
        "declared_missing_values": {},
        "missing": "pairwise",
    }
    assert round(raw["items"][0]["mean"], 2) == 2.46  # type: ignore[index]


def test_pairwise_text_says_which_respondents_the_feldt_ci_uses(
    capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    text = succeeds(
        capsys, "reliability", str(demo), "--items", "q10,q16,q19", "--missing", "pairwise"
    )
    assert (
        "The Feldt CI uses n = 39, the respondents who answered at least one item (psych's "
        "alpha counts every row of its data)." in text
    )


def test_reverse_uses_the_instruments_range_and_refuses_what_it_cannot_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    reversed_by_hand = _alpha(capsys, demo, "--keying", "raw", "--reverse", "q29,q30,q31,q33")
    assert reversed_by_hand["alpha"] == pytest.approx(_alpha(capsys, demo)["alpha"], abs=1e-12)
    other = write(tmp_path, "other.csv", "A1,A2,A3\n1,2,3\n2,2,4\n3,4,4\n5,4,6\n")
    assert fails(capsys, "reliability", str(other), "--items", "A1,A2,A3", "--reverse", "A1") == (
        "--reverse A1 needs --scale-min and --scale-max (A1 is not an item of instrument "
        "trustworthy-collaboration)"
    )
    assert "--reverse q29: instrument trustworthy-collaboration already reverse-keys it" in fails(
        capsys, "reliability", str(demo), "--items", "q29,q30", "--reverse", "q29"
    )


def test_frequencies_have_labels_without_naming_the_instrument(
    capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    text = succeeds(capsys, "frequencies", str(demo), "--items", "q31")
    assert "2 Disagree" in text and "Answers as given" in text


def test_an_all_missing_item_is_tabulated_as_spss_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [row.split(",") for row in LINES]
    for row in rows[1:]:
        row[HEADER.index("q19")] = ""
    path = write(tmp_path, "no-q19.csv", "\n".join(",".join(r) for r in rows) + "\n")
    text = succeeds(capsys, "frequencies", str(path), "--items", "q19")
    table = text.split("q19  ", 1)[1].splitlines()
    assert table[2].split() == ["Missing", "System", "39", "100.0"]
    assert len(table) == 3  # no "Valid Total 0" row, no grand total
    assert "Total" not in text


# -- no silently wrong number ---------------------------------------------------------------


def _frame_file(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def test_a_non_positive_definite_pairwise_matrix_is_refused_naming_the_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(2, 5, 30).astype(float)
    b = a.copy()
    b[::3] = 3
    c = np.full(30, np.nan)
    a[:4] = b[:4] = c[:4] = [1, 1, 5, 5]
    path = _frame_file(tmp_path, "psd.csv", pd.DataFrame({"A": a, "B": b, "C": c}))
    args = ["reliability", str(path), "--items", "A,B,C", "--missing", "pairwise"]
    assert fails(capsys, *args) == (
        "the pairwise covariance matrix is not positive semi-definite (smallest eigenvalue -4; "
        "C contributes most, answered together with the other items by different respondents), "
        "so alpha would be 1.133, outside [-inf, 1]; use listwise deletion or leave C out"
    )


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"A": [3, 3, 3, 3], "B": [1, 2, 3, 4]}, "items whose answers do not vary: A"),
        ({"A": [None] * 4, "B": [1, 2, 3, 4]}, "A has no answers"),
        (
            {"A": [1, 2, None, None, None], "B": [1, None, 3, 4, 5]},
            "A and B were answered together by only 1 respondent (a covariance needs at least 2)",
        ),
        (
            {"A": [1, 2, None, None], "B": [None, None, 3, 4]},
            "A and B were answered together by no respondent (a covariance needs at least 2)",
        ),
    ],
)
def test_edge_cases_name_the_real_problem(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    columns: dict[str, list[float | None]],
    expected: str,
) -> None:
    path = _frame_file(tmp_path, "edge.csv", pd.DataFrame(columns, dtype=float))
    assert fails(capsys, "reliability", str(path), "--items", "A,B", "--missing", "pairwise") == (
        expected
    )


def test_zero_variance_in_analyse_is_explained_and_no_numpy_warning_reaches_stderr(
    tmp_path: Path,
) -> None:
    rows = [row.split(",") for row in LINES]
    for row in rows[1:]:
        row[HEADER.index("q10")] = "3"
        row[HEADER.index("q11")] = "3"
    path = write(tmp_path, "flat.csv", "\n".join(",".join(r) for r in rows) + "\n")
    result = subprocess.run(
        [str(TRUST_SURVEY), "analyse", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "- Competition: no alpha: items whose answers do not vary: q10, q11" in result.stdout


def test_a_negative_alpha_is_a_figure_with_a_warning_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.DataFrame(
        {"A": [1, 2, 3, 4, 5, 3], "B": [5, 4, 3, 2, 1, 3], "C": [2, 3, 3, 4, 3, 3]}
    )
    path = _frame_file(tmp_path, "negative.csv", frame)
    text = succeeds(capsys, "reliability", str(path), "--items", "A,B,C")
    assert "Warning: alpha is negative" in text
    assert "Answer range:        A, B, C: any number (give --scale-min and --scale-max" in text
    document = json.loads(
        succeeds(capsys, "reliability", str(path), "--items", "A,B,C", "--format", "json")
    )
    assert document["alpha"] < 0
    assert document["warnings"] and "correlate" in document["warnings"][0]
    out = tmp_path / "negative.xlsx"
    succeeds(
        capsys, "reliability", str(path), "--items", "A,B,C", "--format", "xlsx", "--out", str(out)
    )
    sheet = load_workbook(out, read_only=True)["Warnings"]
    assert "alpha is negative" in str(next(sheet.iter_rows(min_row=2, values_only=True))[0])


def test_text_rounds_half_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mean of exactly 2.125 is 2.13 (half up, as Table 4), not 2.12 (half even)."""
    frame = pd.DataFrame({"A": [1, 2, 2, 2, 2, 3, 3, 2], "B": [1, 2, 3, 2, 2, 3, 3, 2]})
    assert frame["A"].mean() == 2.125 and f"{2.125:.2f}" == "2.12"
    path = _frame_file(tmp_path, "half.csv", frame)
    text = succeeds(capsys, "reliability", str(path), "--items", "A,B")
    line = next(row for row in text.splitlines() if row.startswith("A "))
    assert line.split()[2] == "2.13"


# -- psychometrics beyond alpha -------------------------------------------------------------


def test_omega_factor_and_agreement_in_text_json_and_xlsx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    items = "q29,q30,q31,q33"
    omega = json.loads(
        succeeds(
            capsys, "omega", str(demo), "--items", items, "--bootstrap", "50", "--format", "json"
        )
    )
    assert 0 < omega["omega_total"] < 1 and omega["ci"][0] < omega["omega_total"] < omega["ci"][1]
    assert omega["settings"]["keying"] == "keyed"
    text = succeeds(capsys, "omega", str(demo), "--items", items, "--bootstrap", "0")
    assert "McDonald's omega total" in text and "(no bootstrap interval)" in text

    factor = json.loads(
        succeeds(
            capsys,
            "factor",
            str(demo),
            "--items",
            "q10,q11,q22,q23,q29,q30,q31,q33",
            "--factors",
            "2",
            "--missing",
            "pairwise",
            "--format",
            "json",
        )
    )
    assert set(factor["loadings"]) == {"q10", "q11", "q22", "q23", "q29", "q30", "q31", "q33"}
    assert len(factor["ss_loadings"]) == 2 and factor["rotation"] == "oblimin"

    agreement = json.loads(
        succeeds(capsys, "agreement", str(demo), "--group", "care_model", "--format", "json")
    )
    assert len(agreement["scales"]) == 11
    first = agreement["scales"][0]
    assert first["icc"]["groups"] >= 2 and first["rwg_j"][0]["rwg_j"] is not None

    for command, args, sheets in [
        ("omega", ["--items", items, "--bootstrap", "20"], ["Omega", "Loadings"]),
        ("factor", ["--items", "q10,q11,q22,q23", "--factors", "1"], ["Loadings", "Variance"]),
        ("agreement", ["--group", "care_model"], ["rwg(j)", "ICC"]),
        ("reliability", ["--items", items], ["Reliability", "Items"]),
        ("frequencies", ["--items", "q30,q31"], ["Settings", "q30", "q31"]),
    ]:
        out = tmp_path / f"{command}.xlsx"
        succeeds(capsys, command, str(demo), *args, "--format", "xlsx", "--out", str(out))
        names = load_workbook(out, read_only=True).sheetnames
        assert names[: len(sheets)] == sheets, (command, names)
        assert "Settings" in names


def test_agreement_edge_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.DataFrame({"team": ["a", "a", "b"], "X1": [1, 2, 3], "X2": [2, 2, 4]})
    path = _frame_file(tmp_path, "teams.csv", frame)
    assert fails(capsys, "agreement", str(path), "--group", "team", "--items", "X1,X2") == (
        "rwg(j) needs the number of answer options of X1: give --scale-min and --scale-max"
    )
    assert fails(capsys, "agreement", str(path), "--group", "nope", "--items", "X1,X2") == (
        f"{path}: no column nope in the file (columns: team, X1, X2)"
    )
    text = succeeds(
        capsys,
        "agreement",
        str(path),
        "--group",
        "team",
        "--items",
        "X1,X2",
        "--scale-min",
        "1",
        "--scale-max",
        "5",
    )
    assert "  b          1        -  (fewer than 2 complete respondents)" in text


def test_omega_needs_three_items(capsys: pytest.CaptureFixture[str], demo: Path) -> None:
    assert fails(capsys, "omega", str(demo), "--items", "q10,q11") == (
        "omega needs at least 3 items (a one-factor model of 2 is not identified)"
    )


# -- start-up -------------------------------------------------------------------------------


def test_help_imports_nothing_heavy() -> None:
    probe = (
        "import sys\n"
        "from app.cli import build_parser\n"
        "build_parser()\n"
        "heavy = [m for m in ('pandas', 'numpy', 'scipy', 'pingouin', 'sqlalchemy', 'pydantic',"
        " 'yaml', 'openpyxl') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


def test_a_usage_error_is_one_message_and_exit_2() -> None:
    """(How fast --help answers is measured by bench/bench_cli_startup.py, not here.)"""
    usage = subprocess.run(
        [str(TRUST_SURVEY), "omega"], capture_output=True, text=True, timeout=60, check=False
    )
    assert usage.returncode == 2 and "required" in usage.stderr
