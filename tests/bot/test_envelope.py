"""The callback envelope's Encrypt value taken without an XML parse, and only when that is safe."""

from __future__ import annotations

import pytest

from groupops.bot.receiver import _envelope_ciphertext
from groupops.wecom.crypto import WeComCrypto, WeComCryptoError, signature_for

TOKEN, CORP_ID = "QDG6eK", "wx5823bf96d3bd56c7"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def _envelope() -> tuple[WeComCrypto, str, str]:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    reply = crypto.encrypt_message("<xml><Content><![CDATA[签到]]></Content></xml>", "n1", "1717401600")
    ciphertext = reply.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{ciphertext}]]></Encrypt>"
        "<AgentID><![CDATA[1000002]]></AgentID></xml>"
    )
    return crypto, ciphertext, body


def test_a_plain_envelope_gives_its_ciphertext_and_decrypts_the_same() -> None:
    crypto, ciphertext, body = _envelope()
    assert _envelope_ciphertext(body) == ciphertext
    assert _envelope_ciphertext(f"  \n{body}\n") == ciphertext
    good = signature_for(TOKEN, "1717401600", "n1", ciphertext)
    assert crypto.decrypt_message(
        _envelope_ciphertext(body), good, "1717401600", "n1"
    ) == crypto.decrypt_message(body, good, "1717401600", "n1")


@pytest.mark.parametrize(
    "hostile",
    [
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
        "<xml><!-- <Encrypt><![CDATA[QUJD]]></Encrypt> --><Encrypt><![CDATA[REVG]]></Encrypt></xml>",
        "<xml><Encrypt><![CDATA[QUJD]]></Encrypt><Encrypt><![CDATA[REVG]]></Encrypt></xml>",
        "<xml><Encrypt><![CDATA[<script>alert(1)</script>]]></Encrypt></xml>",
        "<xml><Encrypt><![CDATA[QUJD' OR 1=1 --]]></Encrypt></xml>",
        "<xml><Encrypt>QUJD</Encrypt></xml>",
        "<xml><Encrypt><![CDATA[]]></Encrypt></xml>",
        "<xml><Encrypt><![CDATA[QUJD]]></Encrypt>",
        "QUJD",
        "",
    ],
)
def test_anything_unusual_is_left_to_the_xml_parse(hostile: str) -> None:
    assert _envelope_ciphertext(hostile) == hostile


def test_a_forged_ciphertext_is_still_refused() -> None:
    crypto, ciphertext, body = _envelope()
    forged = body.replace(ciphertext, "A" * 64)
    good = signature_for(TOKEN, "1717401600", "n1", ciphertext)
    with pytest.raises(WeComCryptoError):
        crypto.decrypt_message(_envelope_ciphertext(forged), good, "1717401600", "n1")
