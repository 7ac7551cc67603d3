from __future__ import annotations

from pathlib import Path

import pytest

from groupops.config import Settings, settings_table_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented_with_its_current_default() -> None:
    documented = DOCS.read_text(encoding="utf-8")
    for row in settings_table_markdown().splitlines()[2:]:
        assert row in documented, f"docs/settings.md is missing or outdated for: {row.split('|')[1].strip()}"


def test_every_setting_has_a_default_and_help() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no help line"
        assert not field.is_required(), f"setting {name} has no default"


def test_environment_prefix_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GROUPOPS_TIMEZONE=Asia/Tokyo\nGROUPOPS_PORT=9000\n", encoding="utf-8")
    monkeypatch.setenv("GROUPOPS_PORT", "8123")
    settings = Settings()
    assert settings.timezone == "Asia/Tokyo"
    assert settings.port == 8123  # environment beats .env


def test_default_database_is_sqlite_inside_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "d")
    assert settings.sqlalchemy_url == f"sqlite:///{(tmp_path / 'd' / 'groupops.db').resolve()}"
    assert Settings(data=tmp_path, database_url="postgresql://x/y").sqlalchemy_url == "postgresql://x/y"
