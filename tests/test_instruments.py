"""Every bundled instrument loads; malformed files get errors naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from analysis.instrument import (
    InstrumentError,
    bundled_instruments,
    instruments_dir,
    load_instrument,
)

REPORT_ITEMS = [
    "q10", "q11", "q16", "q19", "q22", "q23", "q26", "q27", "q28", "q29", "q30", "q31",
    "q32", "q33", "q36", "q37", "q40", "q43", "q46", "q48", "q51", "q52",
]  # fmt: skip

# Table 4 of the report, in its order: (scale name, items, alpha, mean, median, mode).
TABLE_4 = [
    ("Financial and Quality Rating", ["q22", "q23"], 0.832, 2.4, 2, 2),
    ("Integrity behaviours", ["q36", "q37", "q43"], 0.782, 3.4, 3.3, 4),
    ("Competition", ["q10", "q11"], 0.894, 3.2, 3.5, 2),
    ("Ability behaviours", ["q48", "q40"], 0.667, 3.6, 4, 4),
    ("Benevolence behaviour", ["q46"], None, 3.7, 4, 4),
    ("Aligned interests", ["q19"], None, 4.5, 4.5, 5),
    ("Decision Making Process", ["q51"], None, 3.9, 4, 4),
    ("Formal Agreement", ["q52"], None, 2.8, 3, 2),
    ("Surrender of some control", ["q16"], None, 4.0, 4, 4),
    ("Inter-Individual Trust", ["q26", "q27", "q28"], 0.833, 3.6, 3.7, 4),
    ("Inter-Org Trust", ["q29", "q30", "q31", "q33"], 0.736, 2.7, 2.7, 2.8),
]


@pytest.mark.parametrize("name", bundled_instruments())
def test_every_bundled_instrument_loads_and_its_scales_resolve(name: str) -> None:
    instrument = load_instrument(name)
    ids = set(instrument.item_ids)
    for scale in instrument.scales:
        assert set(scale.items) <= ids
    placed = [i for section in instrument.sections for i in section.items]
    assert sorted(placed) == sorted(ids)


def test_at_least_two_instruments_are_bundled() -> None:
    assert {"trustworthy-collaboration", "partnership-self-check"} <= set(bundled_instruments())


def test_trustworthy_collaboration_keeps_the_report_item_numbers() -> None:
    instrument = load_instrument("trustworthy-collaboration")
    assert instrument.item_ids == REPORT_ITEMS
    assert instrument.response_scales["agreement5"].labels == {
        1: "Strongly disagree",
        2: "Disagree",
        3: "Not sure",
        4: "Agree",
        5: "Strongly agree",
    }


def test_table_4_scales_items_and_benchmarks() -> None:
    instrument = load_instrument("trustworthy-collaboration")
    assert [s.name for s in instrument.scales] == [row[0] for row in TABLE_4]
    for scale, (_, items, alpha, mean, median, mode) in zip(
        instrument.scales, TABLE_4, strict=True
    ):
        assert scale.items == items
        assert scale.benchmark is not None
        assert scale.benchmark.direction == "raw"
        assert (scale.benchmark.alpha, scale.benchmark.mean) == (alpha, mean)
        assert (scale.benchmark.median, scale.benchmark.mode) == (median, mode)
    assert instrument.benchmark_n == 39


def test_inter_organisational_items_are_reverse_keyed_and_q32_is_written_for_the_tool() -> None:
    instrument = load_instrument("trustworthy-collaboration")
    assert instrument.reverse_keyed_items == ["q29", "q30", "q31", "q32", "q33"]
    q32 = instrument.item("q32")
    assert q32.source.kind == "written-for-tool"
    assert all("q32" not in s.items for s in instrument.scales)
    others = [i for i in instrument.items if i.id != "q32"]
    assert all(i.source.kind == "report" and i.source.quote for i in others)


def test_every_scale_is_classified_and_the_four_pillars_are_covered() -> None:
    instrument = load_instrument("trustworthy-collaboration")
    pillars = {s.pillar for s in instrument.scales if s.pillar}
    assert {p.value for p in pillars} == {"ability", "benevolence", "integrity", "predictability"}
    levels = {s.trust_level.value for s in instrument.scales if s.trust_level}
    assert levels == {"inter-individual", "inter-organisational"}
    assert instrument.scale("competition").favourable == "low"


def test_background_questions_cover_the_report_breakdowns() -> None:
    instrument = load_instrument("trustworthy-collaboration")
    questions = {q.id: q for q in instrument.background}
    assert set(questions) == {
        "partnership_name",
        "care_model",
        "organisation_type",
        "professional_role",
    }
    care_models = [o.label for o in questions["care_model"].options]
    assert care_models[:5] == [
        "Acute care collaborations",
        "Enhanced health in care homes",
        "Integrated primary and acute care systems",
        "Multispecialty community providers",
        "Urgent and emergency care",
    ]
    assert care_models[-1] == "Other"
    assert [o.value for o in questions["professional_role"].options] == [
        "management",
        "medical",
        "other",
    ]


def _mutated(tmp_path: Path, change: object) -> Path:
    """Write a copy of the main instrument after ``change(document)``."""
    source = instruments_dir() / "trustworthy-collaboration.yaml"
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    assert callable(change)
    change(document)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["items"][3].pop("text"), "items[3](q19).text: Field required"),
        (lambda d: d["items"][0].update(response_scale="nope"), "response_scale 'nope'"),
        (lambda d: d["scales"][0]["items"].append("q99"), "unknown items q99"),
        (lambda d: d["scales"][2].update(favourable="sideways"), "scales[2](competition)"),
        (lambda d: d["response_scales"]["agreement5"]["labels"].pop(3), "labels must give"),
        (lambda d: d["items"].append(dict(d["items"][0])), "item ids are not unique: q10"),
        (lambda d: d["sections"][1]["items"].remove("q10"), "exactly one section"),
        (lambda d: d["items"][1].update(colour="red"), "items[1](q11).colour"),
        (lambda d: d.update(estimated_minutes="ten"), "estimated_minutes"),
    ],
)
def test_malformed_instrument_names_file_and_field(
    tmp_path: Path, change: object, expected: str
) -> None:
    path = _mutated(tmp_path, change)
    with pytest.raises(InstrumentError) as raised:
        load_instrument(path)
    message = str(raised.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_not_yaml_and_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"bad.yaml: not valid YAML at line 1: the list"):
        load_instrument(bad)
    bad.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"must be a mapping .* but it holds a list$"):
        load_instrument(bad)
    with pytest.raises(InstrumentError, match=r"no such instrument .*trustworthy-collaboration"):
        load_instrument("no-such-instrument")
