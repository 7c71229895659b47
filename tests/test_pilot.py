"""Pilot files: the published figures the demo reproduces are data, validated on load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis.instrument import bundled_instruments, load_instrument
from analysis.pilot import PilotError, load_pilot, parse_pilot, pilots_dir

ROOT = Path(__file__).resolve().parents[1]
GOOD = (pilots_dir() / "trustworthy-collaboration.yaml").read_text(encoding="utf-8")


def _problem(text: str) -> str:
    with pytest.raises(PilotError) as caught:
        parse_pilot(text, "pilot.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("pilot.yaml: ")
    return message


def test_bundled_pilots_load_and_name_their_instrument() -> None:
    names = sorted(p.stem for p in pilots_dir().glob("*.yaml"))
    assert names and set(names) <= set(bundled_instruments())
    for name in names:
        assert load_pilot(name).instrument.id == name


def test_pilot_files_are_not_listed_as_instruments() -> None:
    assert not any(name.startswith("pilots") for name in bundled_instruments())


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("respondents: 39", "respondents: many", "respondents: Input should be a valid integer"),
        ("q31: {2: 17,", "q31: {9: 17,", "frequencies.q31: answers outside 1-5: 9"),
        ("q31: {2: 17,", "q99: {2: 17,", "frequencies.q99: not an item"),
        ("median: 10/3", "median: 3.3", "scale_targets[1](integrity_behaviours).median"),
        ("median: 10/3", "median: 1/0", "scale_targets[1].median: '1/0' is not a number"),
        ("alpha: 0.832", "alpha: 0.9", "scale_targets[0](financial_quality_rating).alpha"),
        ("scale: competition", "scale: rivalry", "scale_targets[2](rivalry).scale"),
        ("responses: 7", "responses: 8", "partnerships[0](acute-care-collaborations).names"),
        ("kind: urgent-and-emergency-care", "kind: urgent", "partnerships[4](urgent).kind"),
        ("management: 28", "managers: 28", "background_counts.professional_role: not options"),
        ("q33: 1", "q32: 1", "missing.q32: not an item of a scale target"),
        ("anchor: inter_organisational_trust", "anchor: nothing", "weak_items[0](q32).anchor"),
        ("  - {item: q32,", "  - {item: q31,", "weak_items[0](q31): q31 is already given"),
        ("instrument: trustworthy-collaboration", "instrument: nope", "instrument: nope:"),
        ("seed: 2017", "seed: 2017\nseed: 1", "not valid YAML at line"),
        ("seed: 2017", "seed: 2017\ncolour: red", "colour: Extra inputs are not permitted"),
    ],
)
def test_a_malformed_pilot_gives_one_line_naming_the_field(old: str, new: str, field: str) -> None:
    assert old in GOOD
    assert field in _problem(GOOD.replace(old, new, 1))


def test_an_item_nothing_gives_is_named() -> None:
    text = GOOD.replace("  q16: {2: 1, 3: 4, 4: 28, 5: 6}", "")
    assert _problem(text).endswith("items of trustworthy-collaboration that nothing gives: q16")


def test_not_a_mapping() -> None:
    assert "must be a mapping" in _problem("- one\n- two\n")


def test_unknown_pilot_name() -> None:
    with pytest.raises(PilotError, match="no such pilot file"):
        load_pilot("no-such-instrument")


def _ids(instrument_name: str) -> set[str]:
    instrument = load_instrument(instrument_name)
    return {
        instrument.id,
        *instrument.item_ids,
        *instrument.background_ids,
        *(scale.id for scale in instrument.scales),
        *(o.value for q in instrument.background for o in q.options if "-" in o.value),
    }


def test_the_demo_generator_names_no_item_question_or_scale() -> None:
    """Instruments are data: which items and figures the demo reproduces is the pilot's."""
    source = (ROOT / "analysis" / "demo.py").read_text(encoding="utf-8")
    for name in sorted(p.stem for p in pilots_dir().glob("*.yaml")):
        named = [i for i in sorted(_ids(name)) if re.search(rf"\b{re.escape(i)}\b", source)]
        assert not named, named


def test_no_python_under_analysis_or_app_quotes_an_item_id() -> None:
    item_ids = {i for name in bundled_instruments() for i in load_instrument(name).item_ids}
    found = []
    for path in sorted([*(ROOT / "analysis").rglob("*.py"), *(ROOT / "app").rglob("*.py")]):
        text = path.read_text(encoding="utf-8")
        for item in item_ids:
            if re.search(rf"[\"']{re.escape(item)}[\"']", text):
                found.append(f"{path.relative_to(ROOT)}: {item}")
    assert not found, found


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("  kind: multispecialty-community-providers\n  link", "  kind: mcp\n  link", "kind"),
        ("    acute-trust: Northshire", "    hospital: Northshire", "organisations"),
        ("link_organisation: acute-trust", "link_organisation: other", "link_organisation"),
    ],
)
def test_a_malformed_demo_partnership_is_named(old: str, new: str, field: str) -> None:
    assert old in GOOD
    assert f"demo_partnership.{field}: " in _problem(GOOD.replace(old, new, 1))
