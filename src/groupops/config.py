"""The one typed settings object.

Every setting has a default and a line of help; ``docs/settings.md`` lists them all
(``tests/test_config.py`` fails when one is missing). Settings come from, in order of
precedence: explicit keyword arguments, ``GROUPOPS_*`` environment variables, a ``.env``
file in the working directory, and the defaults below.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """GroupOps settings (environment prefix ``GROUPOPS_``)."""

    model_config = SettingsConfigDict(
        env_prefix="GROUPOPS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage -----------------------------------------------------------------
    data: Path = Field(
        Path("groupops-data"),
        description="Data directory: warehouse, operational database, quarantine and raw exports.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the operational store; default SQLite (WAL) at <data>/groupops.db.",
    )
    timezone: str = Field(
        "Asia/Shanghai",
        description="Brand time zone: days, weeks and business hours are counted in it; times are stored as UTC.",
    )
    # --- ingest --------------------------------------------------------------------
    ingest_batch_rows: int = Field(
        200_000, description="Records buffered per Parquet part file while importing (memory vs. file count)."
    )
    max_line_bytes: int = Field(
        1_000_000,
        description="Longest accepted input line / CSV record in bytes; longer ones are quarantined.",
    )
    # --- analytics -------------------------------------------------------------------
    engine: str = Field("duckdb", description="Analytics engine: duckdb (embedded) or spark.")
    active_window_days: int = Field(
        30,
        description="A member is active if they spoke or bought within this many days (active-user ratio).",
    )
    inactivity_care_days: int = Field(
        7, description="Members silent for this many days get a care task (plan: 7-day inactivity care)."
    )
    churn_window_days: int = Field(
        30,
        description="A member with no activity for this many days counts as churned in the monthly churn rate.",
    )
    funnel_window_days: int = Field(14, description="Conversion window of funnels, in days.")
    # --- service levels (plan §3.3, §6.4) --------------------------------------------
    sla_question_minutes: int = Field(15, description="First answer to a question within this many minutes.")
    sla_inquiry_minutes: int = Field(180, description="Answer to a product inquiry within this many minutes.")
    sla_complaint_response_minutes: int = Field(1440, description="First response to a complaint (minutes).")
    sla_complaint_resolution_minutes: int = Field(4320, description="Resolution of a complaint (minutes).")
    incident_detect_minutes: int = Field(
        60, description="Negative incidents must be detected within (minutes)."
    )
    incident_respond_minutes: int = Field(
        120, description="Negative incidents must be responded to within (minutes)."
    )
    incident_resolve_minutes: int = Field(
        1440, description="Negative incidents must be resolved within (minutes)."
    )
    takedown_minutes: int = Field(
        180, description="A violating published item must be taken down within (minutes)."
    )
    # --- network (plan §4.2) ---------------------------------------------------------
    influencer_share: float = Field(
        0.15, description="Top share of members by degree centrality called influencers."
    )
    spreader_share: float = Field(
        0.35, description="Next share of members by degree centrality called spreaders."
    )
    # --- bot ----------------------------------------------------------------------------
    robot_messages_per_minute: int = Field(20, description="Client-side rate limit per WeCom group robot.")
    quiet_hours: str = Field(
        "22:00-08:00", description="Local hours in which the bot sends nothing unprompted."
    )
    wecom_api_base: str = Field(
        "https://qyapi.weixin.qq.com", description="Base URL of the WeCom server API."
    )
    wecom_token: str | None = Field(None, description="Callback token configured in the WeCom admin console.")
    wecom_aes_key: str | None = Field(None, description="Callback EncodingAESKey (43 characters).")
    wecom_corp_id: str | None = Field(
        None, description="Corp id (receive id) used to check callback messages."
    )
    wecom_contact_secret: str | None = Field(
        None, description="Secret of the WeCom 客户联系 (customer contact) app, used to fetch access tokens."
    )
    # --- web ------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8000, description="Port the web server listens on.")
    secret_key: str | None = Field(
        None, description="Key signing session cookies; generated and kept in <data>/secret.key when unset."
    )
    locale: str = Field("zh-CN", description="Default interface language: zh-CN or en.")
    login_attempts_per_minute: int = Field(
        5, description="Failed logins allowed per user and address per minute."
    )

    @property
    def sqlalchemy_url(self) -> str:
        """The operational store URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data / 'groupops.db').resolve()}"

    @property
    def warehouse_dir(self) -> Path:
        return self.data / "warehouse"

    @property
    def quarantine_dir(self) -> Path:
        return self.data / "quarantine"

    @property
    def raw_dir(self) -> Path:
        return self.data / "raw"

    @property
    def marts_dir(self) -> Path:
        return self.data / "marts"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment (cached); faces pass overrides with ``Settings(data=...)``."""
    return Settings()


def settings_table_markdown() -> str:
    """The Markdown table of every setting, as in ``docs/settings.md``."""
    rows = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = "(unset)" if field.default is None else f"`{field.default}`"
        rows.append(f"| `{name}` | `GROUPOPS_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table_markdown())
