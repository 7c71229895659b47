"""docs/data-protection.md's settings table matches app/settings.py: every retention and
privacy setting is listed with its true default, and nothing listed is not a setting."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import Settings

DOC = (Path(__file__).resolve().parent.parent / "docs" / "data-protection.md").read_text(
    encoding="utf-8"
)
DATA_PROTECTION_SETTINGS = {
    "response_retention_days",
    "draft_grace_days",
    "audit_retention_days",
    "anonymity_threshold",
    "data_controller",
    "privacy_contact",
    "dpo_contact",
    "lawful_basis",
    "privacy_purpose",
}
ROW = re.compile(r"^\| `([A-Z_]+)` \| (`(?P<value>[^`]*)`|(?P<none>none)) \| .+ \|$")


def settings_table() -> dict[str, str | None]:
    section = DOC.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str | None] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            found = ROW.match(line)
            assert found, f"not a settings row: {line}"
            rows[found.group(1).lower()] = None if found.group("none") else found.group("value")
    return rows


def test_every_data_protection_setting_is_listed_with_its_default() -> None:
    rows = settings_table()
    assert set(rows) == DATA_PROTECTION_SETTINGS
    for name, listed in rows.items():
        default = Settings.model_fields[name].default
        assert listed == (None if default is None else str(default)), name


def test_nothing_listed_is_not_a_setting() -> None:
    assert set(settings_table()) <= set(Settings.model_fields)
