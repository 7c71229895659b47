"""Every setting the service reads is documented in the README (datasette's rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings, SettingsError, load_settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_documented_in_readme(name: str) -> None:
    assert f"`{name.upper()}`" in README, f"README.md does not document {name.upper()}"


def test_bad_setting_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANONYMITY_THRESHOLD", "2")
    with pytest.raises(SettingsError, match=r"^ANONYMITY_THRESHOLD: .*greater than or equal to 3$"):
        load_settings()


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        load_settings()
