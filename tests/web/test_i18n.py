"""Both catalogues have the same keys, every key a template uses exists, and the switch works."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from groupops.errors import ConfigurationError
from groupops.web.i18n import LOCALES, catalogue, normalise_locale, translate

from .conftest import csrf_of

_TEMPLATES = Path(__file__).parents[2] / "src" / "groupops" / "web" / "templates"


def test_catalogues_have_the_same_keys_and_no_empty_text() -> None:
    chinese, english = catalogue("zh-CN"), catalogue("en")
    assert set(chinese) == set(english)
    assert all(value.strip() for value in [*chinese.values(), *english.values()])


def test_every_literal_key_in_templates_is_catalogued() -> None:
    used = set()
    for template in _TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_.\-A-Z]+)'", template.read_text(encoding="utf-8")))
    used = {key for key in used if not key.endswith(".")}
    assert used and used <= set(catalogue("en"))


def test_translate_formats_and_falls_back() -> None:
    assert translate("en", "members.count", total=3) == "3 members"
    assert translate("zh-CN", "members.count", total=3) == "共 3 位会员"
    assert translate("xx", "nav.overview") == catalogue("zh-CN")["nav.overview"]
    assert translate("en", "no.such.key") == "no.such.key"
    assert normalise_locale("<script>") == "zh-CN"
    with pytest.raises(ConfigurationError):
        catalogue("fr")


def test_chinese_is_the_default_and_the_switch_is_kept_in_the_session(client_for: Any) -> None:
    client = client_for("manager")
    assert "运营总览" in client.get("/").text
    response = client.post(
        "/lang",
        data={"locale": "en", "next": "/groups", "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/groups"
    assert "Groups" in client.get("/groups").text and "Overview" in client.get("/").text
    client.post("/lang", data={"locale": "klingon", "csrf_token": csrf_of(client)})
    assert 'lang="en"' in client.get("/").text
    assert set(LOCALES) == {"zh-CN", "en"}
