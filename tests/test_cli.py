"""The analysts' command line end to end: ``analyse``, ``reliability``, ``frequencies``,
``demo-data``, through the installed ``trust-survey`` script and through ``app.cli.main``."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from analysis.demo import demo_csv_text
from app.cli import main

TRUST_SURVEY = Path(sys.executable).with_name("trust-survey")

# The report's Tables 5 (q31) and 6 (q30) as printed: value, frequency, percent, valid
# percent, cumulative percent; then the Total row.
TABLE_5 = [
    ("2", "17", "43.6", "43.6", "43.6"),
    ("3", "7", "17.9", "17.9", "61.5"),
    ("4", "14", "35.9", "35.9", "97.4"),
    ("5", "1", "2.6", "2.6", "100.0"),
]
TABLE_6 = [
    ("1", "2", "5.1", "5.1", "5.1"),
    ("2", "12", "30.8", "30.8", "35.9"),
    ("3", "11", "28.2", "28.2", "64.1"),
    ("4", "12", "30.8", "30.8", "94.9"),
    ("5", "2", "5.1", "5.1", "100.0"),
]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TRUST_SURVEY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "demo.csv"
    result = run("demo-data", "--out", str(path))
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def analyse_text(demo_csv: Path) -> str:
    result = run("analyse", str(demo_csv))
    assert result.returncode == 0, result.stderr
    return result.stdout


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``trust-survey ARGS`` through ``app.cli.main``; return standard output."""
    assert main(list(args)) == 0
    return capsys.readouterr().out


def _table_block(text: str, item: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line == item or line.startswith(f"{item}  "))
    block: list[str] = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        block.append(line)
    return block


def _numbers(line: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\d+(?:\.\d+)?", line))


@pytest.mark.parametrize(("item", "published"), [("q31", TABLE_5), ("q30", TABLE_6)])
def test_analyse_prints_tables_5_and_6_digit_for_digit(
    analyse_text: str, item: str, published: list[tuple[str, ...]]
) -> None:
    block = _table_block(analyse_text, item)
    assert [_numbers(line) for line in block] == [*published, ("39", "100.0", "100.0")]
    assert block[0].startswith("Valid")
    assert block[-1].split()[0] == "Total"


def test_analyse_text_has_table4_and_every_item(analyse_text: str) -> None:
    assert "Table 4" in analyse_text and "Table 3" in analyse_text
    assert "Inter-Org Trust" in analyse_text and "0.736" in analyse_text
    for item in ("q10", "q19", "q32", "q52"):
        assert _table_block(analyse_text, item)
    assert "Missing  System" in analyse_text  # q19 has a missing answer


def test_demo_data_to_stdout_is_the_demo_csv(capsys: pytest.CaptureFixture[str]) -> None:
    assert in_process(capsys, "demo-data") == demo_csv_text()


def test_analyse_json_shape(demo_csv: Path) -> None:
    result = run("analyse", str(demo_csv), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"instrument", "n", "table4", "frequencies", "settings", "notes"}
    assert document["settings"]["missing"] == "listwise"
    assert document["instrument"] == "trustworthy-collaboration"
    assert document["n"] == 39
    assert len(document["table4"]) == 11
    assert {"scale_id", "name", "items", "alpha", "mean", "median", "mode"} <= set(
        document["table4"][0]
    )
    assert len(document["frequencies"]) == 22
    q30 = next(table for table in document["frequencies"] if table["item"] == "q30")
    assert [row["frequency"] for row in q30["rows"]] == [2, 12, 11, 12, 2]
    assert set(q30["rows"][0]) == {
        "value",
        "label",
        "frequency",
        "percent",
        "valid_percent",
        "cumulative_percent",
    }
    assert q30["missing"] == 0 and q30["total"] == 39


def test_analyse_gives_favourable_keyed_figures_with_the_printed_direction_named(
    demo_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every format of ``analyse`` follows the report's rule: each scale's mean, median and
    mode favourable-keyed (higher is better), the report's printed mean beside it, named."""
    from analysis.demo import demo_responses
    from analysis.frequencies import spss_round
    from analysis.instrument import load_instrument
    from analysis.summary import printed_as, table4

    instrument = load_instrument("trustworthy-collaboration")
    summary = table4(demo_responses(), instrument)
    by_id = {s.scale_id: s for s in summary.scales}
    low = [s for s in instrument.scales if s.favourable == "low"]
    assert low  # the demo instrument has a scale where agreeing is unfavourable

    document = json.loads(in_process(capsys, "analyse", str(demo_csv), "--format", "json"))
    for scale in document["table4"]:
        s = by_id[scale["scale_id"]]
        assert scale["mean"] == pytest.approx(s.score)
        assert s.as_printed is not None
        assert scale["as_printed"]["mean"] == pytest.approx(s.as_printed.mean)
    assert "favourable" in document["settings"]["keying"]

    text = in_process(capsys, "analyse", str(demo_csv))
    assert "own direction" not in text and "higher is better" in text
    assert f"Mean {printed_as(instrument)}" in text

    rows = list(
        csv.DictReader(io.StringIO(in_process(capsys, "analyse", str(demo_csv), "--format", "csv")))
    )
    for scale in low:
        s = by_id[scale.id]
        mean = next(r for r in rows if r["id"] == scale.id and r["statistic"] == "mean")
        assert float(mean["result"]) == pytest.approx(s.score)
        printed = next(
            r for r in rows if r["id"] == scale.id and r["statistic"] == "as_printed_mean"
        )
        assert s.as_printed is not None
        assert float(printed["result"]) == pytest.approx(s.as_printed.mean)

    out = tmp_path / "favourable.xlsx"
    assert main(["analyse", str(demo_csv), "--format", "xlsx", "--out", str(out)]) == 0
    sheet = list(load_workbook(out, read_only=True)["Table 4"].iter_rows(values_only=True))
    header = list(sheet[0])
    mean_column = header.index("Mean (higher is better)")
    printed_column = header.index(f"Mean {printed_as(instrument)}")
    for scale in low:
        row = next(r for r in sheet if r[0] == scale.name)
        s = by_id[scale.id]
        assert s.as_printed is not None
        assert row[mean_column] == float(spss_round(s.score, 2))
        assert row[printed_column] == float(spss_round(s.as_printed.mean, 2))


def test_analyse_include_empty(demo_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = json.loads(in_process(capsys, "analyse", str(demo_csv), "--format", "json"))
    full = json.loads(
        in_process(capsys, "analyse", str(demo_csv), "--format", "json", "--include-empty")
    )
    q31_plain = next(t for t in plain["frequencies"] if t["item"] == "q31")
    q31_full = next(t for t in full["frequencies"] if t["item"] == "q31")
    assert [r["value"] for r in q31_plain["rows"]] == [2, 3, 4, 5]
    assert [r["value"] for r in q31_full["rows"]] == [1, 2, 3, 4, 5]
    assert q31_full["rows"][0]["frequency"] == 0


def test_analyse_csv_long_table(
    demo_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_csv = in_process(capsys, "analyse", str(demo_csv), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(long_csv)))
    assert list(rows[0]) == ["table", "id", "name", "value", "value_label", "statistic", "result"]
    alpha = next(r for r in rows if r["id"] == "competition" and r["statistic"] == "alpha")
    assert round(float(alpha["result"]), 3) == 0.894
    q31 = {
        r["value"]: int(r["result"])
        for r in rows
        if r["id"] == "q31" and r["statistic"] == "frequency"
    }
    assert q31 == {"2": 17, "3": 7, "4": 14, "5": 1}
    total = next(r for r in rows if r["id"] == "q19" and r["statistic"] == "missing")
    assert total["result"] == "1"
    out = tmp_path / "long.csv"
    assert in_process(capsys, "analyse", str(demo_csv), "--format", "csv", "--out", str(out)) == ""
    assert out.read_text(encoding="utf-8") == long_csv


def test_analyse_xlsx_opens_with_openpyxl(demo_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo.xlsx"
    result = run("analyse", str(demo_csv), "--format", "xlsx", "--out", str(out))
    assert result.returncode == 0, result.stderr
    workbook = load_workbook(out, read_only=True)
    assert workbook.sheetnames[:2] == ["Table 4", "Table 3"]
    assert len(workbook.sheetnames) == 2 + 22 + 2
    assert workbook.sheetnames[-2:] == ["Settings", "Notes"]
    table4_rows = list(workbook["Table 4"].iter_rows(values_only=True))
    assert table4_rows[0][:3] == ("Scale name", "Items", "Cronbach's alpha")
    inter_org = next(row for row in table4_rows if row[0] == "Inter-Org Trust")
    assert inter_org[2] == 0.736
    q30 = [row for row in workbook["q30"].iter_rows(values_only=True)]
    valid_rows = [row for row in q30[1:] if row[1] and str(row[1])[0].isdigit()]
    assert [(row[2], row[3], row[5]) for row in valid_rows] == [
        (2, 5.1, 5.1),
        (12, 30.8, 35.9),
        (11, 28.2, 64.1),
        (12, 30.8, 94.9),
        (2, 5.1, 100.0),
    ]


def test_analyse_xlsx_needs_out(demo_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyse", str(demo_csv), "--format", "xlsx"]) == 2
    assert "--out" in capsys.readouterr().err


def test_reliability_json_keys_exactly(demo_csv: Path) -> None:
    result = run(
        "reliability",
        str(demo_csv),
        "--items",
        "q29,q30,q31,q33",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == [
        "alpha",
        "ci",
        "standardized_alpha",
        "n",
        "k",
        "items",
        "warnings",
        "settings",
    ]
    assert document["settings"]["keying"] == "keyed"
    assert document["settings"]["missing"] == "listwise"
    assert document["settings"]["reverse_keyed"] == ["q29", "q30", "q31", "q33"]
    assert round(document["alpha"], 3) == 0.736
    assert len(document["ci"]) == 2 and document["ci"][0] < document["alpha"] < document["ci"][1]
    assert document["n"] == 38 and document["k"] == 4
    assert [item["item"] for item in document["items"]] == ["q29", "q30", "q31", "q33"]
    for item in document["items"]:
        assert list(item) == [
            "item",
            "n",
            "mean",
            "sd",
            "corrected_item_total_r",
            "alpha_if_deleted",
        ]
    assert round(document["items"][1]["mean"], 2) == round(6 - 2.97, 2)  # q30 reversed


def test_reliability_text_and_two_items(demo_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = in_process(capsys, "reliability", str(demo_csv), "--items", "q10,q11")
    assert "Cronbach's alpha     0.894" in text
    document = json.loads(
        in_process(capsys, "reliability", str(demo_csv), "--items", "q10,q11", "--format", "json")
    )
    assert document["items"][0]["alpha_if_deleted"] is None  # one item left has no alpha


def test_frequencies_json_and_labels(demo_csv: Path) -> None:
    """Through the installed script."""
    result = run(
        "frequencies",
        str(demo_csv),
        "--items",
        "q31,q19",
        "--instrument",
        "trustworthy-collaboration",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    q31, q19 = json.loads(result.stdout)
    assert [(r["value"], r["label"], r["frequency"]) for r in q31["rows"]] == [
        (2, "Disagree", 17),
        (3, "Not sure", 7),
        (4, "Agree", 14),
        (5, "Strongly agree", 1),
    ]
    assert [round(r["cumulative_percent"], 1) for r in q31["rows"]] == [43.6, 61.5, 97.4, 100.0]
    assert (q31["missing"], q31["total"]) == (0, 39)
    assert (q19["missing"], q19["total"]) == (1, 39)


def test_frequencies_text_without_instrument(
    demo_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = in_process(capsys, "frequencies", str(demo_csv), "--items", "q30")
    assert [_numbers(line) for line in _table_block(text, "q30")] == [
        *TABLE_6,
        ("39", "100.0", "100.0"),
    ]


def test_frequencies_include_empty_with_scale(
    demo_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = in_process(
        capsys,
        "frequencies",
        str(demo_csv),
        "--items",
        "q31",
        "--scale-min",
        "1",
        "--scale-max",
        "5",
        "--include-empty",
        "--format",
        "json",
    )
    (q31,) = json.loads(output)
    assert [r["value"] for r in q31["rows"]] == [1, 2, 3, 4, 5]


# -- bad input: one line on stderr, exit code 2, never a traceback ---------------------------


def _variant(demo: Path, folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def _bad_inputs(demo: Path, folder: Path) -> tuple[list[tuple[list[str], str]], ...]:
    """(arguments, expected part of the message): those run as a subprocess, then the rest."""
    text = demo.read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines[0].split(",")

    def with_cell(row: int, column: str, value: str) -> str:
        rows = [line.split(",") for line in lines]
        rows[row][header.index(column)] = value
        return "\n".join(",".join(cells) for cells in rows) + "\n"

    files = {
        "unknown": _variant(demo, folder, "unknown.csv", text.replace("q33", "q34", 1)),
        "missing": _variant(demo, folder, "missing.csv", text.replace(",q52", "", 1)),
        "text": _variant(demo, folder, "text.csv", with_cell(7, "q30", "x")),
        "range": _variant(demo, folder, "range.csv", with_cell(3, "q31", "9")),
        "empty": _variant(demo, folder, "empty.csv", ""),
        "latin1": _variant(
            demo, folder, "latin1.csv", with_cell(2, "partnership_name", "Café"), "latin-1"
        ),
    }
    absent = str(folder / "absent.csv")
    every_kind = [
        (["analyse", str(files["unknown"])], "unknown column q34"),
        (["analyse", str(files["missing"])], "missing item column q52"),
        (["analyse", str(files["text"])], 'line 8, column q30: "x" is not a number'),
        (["analyse", str(files["range"])], "line 4, column q31: 9 is outside 1-5"),
        (["analyse", str(files["empty"])], "the file is empty"),
        (["analyse", str(files["latin1"])], "not UTF-8 text"),
        (["analyse", absent], "no such file"),
        (["analyse", str(demo), "--instrument", "no-such-instrument"], "no such instrument"),
    ]
    more = [
        (["reliability", str(files["text"]), "--items", "q29,q30"], "line 8, column q30"),
        (["reliability", str(demo), "--items", "q29,zz"], "no column zz"),
        (
            ["reliability", str(files["range"]), "--items", "q30,q31", "--scale-max", "5"],
            "line 4, column q31: 9 is outside 1-5",
        ),
        (["reliability", str(demo), "--items", "q29"], "at least 2 items"),
        (
            ["reliability", str(demo), "--items", "q29,q30", "--reverse", "q29"],
            "--reverse q29: instrument trustworthy-collaboration already reverse-keys it",
        ),
        (["reliability", str(demo), "--items", "q29,q30", "--reverse", "q31"], "not among"),
        (
            [
                "reliability",
                str(demo),
                "--items",
                "q29,q30",
                "--scale-min",
                "5",
                "--scale-max",
                "1",
            ],
            "must be below",
        ),
        (["reliability", str(files["latin1"]), "--items", "q29,q30"], "not UTF-8"),
        (["reliability", str(files["empty"]), "--items", "q29,q30"], "the file is empty"),
        (["frequencies", str(demo), "--items", "zz"], "no column zz"),
        (["frequencies", absent, "--items", "q30"], "no such file"),
        (
            [
                "frequencies",
                str(files["range"]),
                "--items",
                "q31",
                "--instrument",
                "trustworthy-collaboration",
            ],
            "9 is outside 1-5",
        ),
        (
            ["frequencies", str(demo), "--items", "q30", "--instrument", "nope"],
            "no such instrument",
        ),
        (["demo-data", "--out", str(folder / "no" / "such" / "dir.csv")], "cannot write"),
        (
            ["analyse", str(demo), "--format", "xlsx", "--out", str(folder / "no" / "x.xlsx")],
            "cannot write",
        ),
    ]
    return every_kind, more


def _check_one_line(args: list[str], expected: str, code: int, stdout: str, stderr: str) -> None:
    assert code == 2, (args, stderr)
    assert "Traceback" not in stderr, args
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, (args, stderr)
    assert lines[0].startswith(f"trust-survey {args[0]}: error: "), lines[0]
    assert expected in lines[0], (args, lines[0])
    assert stdout == ""


def test_bad_input_one_line_exit_2_no_traceback(demo_csv: Path, tmp_path: Path) -> None:
    """Every kind of bad input, through the installed script."""
    every_kind, _ = _bad_inputs(demo_csv, tmp_path)
    started = [  # all at once: each start of the script costs about two seconds
        subprocess.Popen(
            [str(TRUST_SURVEY), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args, _ in every_kind
    ]
    for (args, expected), process in zip(every_kind, started, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        _check_one_line(args, expected, process.returncode, stdout, stderr)


def test_more_bad_input_in_process(
    demo_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same contract for the other commands, through ``app.cli.main``."""
    _, more = _bad_inputs(demo_csv, tmp_path)
    for args, expected in more:
        code = main(args)
        captured = capsys.readouterr()
        _check_one_line(args, expected, code, captured.out, captured.err)


@pytest.mark.parametrize(
    "args",
    [
        ["analyse"],
        ["analyse", "x.csv", "--format", "pdf"],
        ["reliability", "x.csv"],
        ["reliability", "x.csv", "--items", "a,,b"],
        ["reliability", "x.csv", "--items", "a,b", "--missing", "some"],
        ["frequencies", "x.csv"],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "usage: trust-survey" in err


def test_usage_error_through_the_script() -> None:
    result = run("reliability", "x.csv")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "the following arguments are required: --items" in result.stderr


# -- in process, through app.cli.main -------------------------------------------------------


def test_main_in_process(demo_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frequencies", str(demo_csv), "--items", "q31", "--format", "json"]) == 0
    (q31,) = json.loads(capsys.readouterr().out)
    assert [r["frequency"] for r in q31["rows"]] == [17, 7, 14, 1]

    assert main(["reliability", str(demo_csv), "--items", "q22,q23", "--format", "json"]) == 0
    assert round(json.loads(capsys.readouterr().out)["alpha"], 3) == 0.832

    assert main(["analyse", str(demo_csv), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 39


def test_main_in_process_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(demo_csv_text().replace("q10", "q9", 1), encoding="utf-8")
    assert main(["analyse", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trust-survey analyse: error: ")
    assert "unknown column q9" in err and "missing item column q10" in err


def test_main_demo_data_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.csv"
    assert main(["demo-data", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == demo_csv_text()
    assert "39 demo responses" in capsys.readouterr().err
