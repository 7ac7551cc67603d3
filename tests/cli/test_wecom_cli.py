"""``groupops wecom verify-url`` / ``decrypt``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groupops.cli import app
from groupops.wecom.crypto import WeComCrypto, parse_xml_safely

runner = CliRunner()
TOKEN, AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
VERIFY = {
    "--token": TOKEN,
    "--aes-key": AES_KEY,
    "--receive-id": CORP_ID,
    "--timestamp": "1409659589",
    "--nonce": "263014780",
    "--msg-signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "--echostr": ECHOSTR,
}


def _args(command: str, options: dict[str, str], *extra: str) -> list[str]:
    return ["wecom", command, *[part for pair in options.items() for part in pair], *extra]


def test_verify_url_prints_the_echo() -> None:
    result = runner.invoke(app, _args("verify-url", VERIFY))
    assert result.exit_code == 0 and result.stdout == "1616140317555161061\n"


def test_verify_url_json() -> None:
    result = runner.invoke(app, _args("verify-url", VERIFY, "--json"))
    assert json.loads(result.stdout) == {"echo": "1616140317555161061"}


@pytest.mark.parametrize(
    ("option", "value", "code", "hint"),
    [
        ("--token", "wrong", "-40001", "Token"),
        ("--aes-key", AES_KEY[:-1], "-40004", "43"),
        ("--receive-id", "wwOtherCorp", "-40005", "corp id"),
        ("--echostr", ECHOSTR.replace("+", " "), "-40001", "Token"),
    ],
)
def test_wrong_inputs_exit_1_with_code_and_hint(option: str, value: str, code: str, hint: str) -> None:
    result = runner.invoke(app, _args("verify-url", {**VERIFY, option: value}))
    assert result.exit_code == 1 and result.stdout == ""
    assert code in result.stderr and hint in result.stderr


def test_url_encoded_echostr_gets_the_base64_hint() -> None:
    from groupops.wecom.crypto import signature_for

    encoded = ECHOSTR.replace("+", "%2B").replace("=", "%3D")
    options = {
        **VERIFY,
        "--echostr": encoded,
        "--msg-signature": signature_for(TOKEN, "1409659589", "263014780", encoded),
    }
    result = runner.invoke(app, _args("verify-url", options))
    assert result.exit_code == 1 and "-40010" in result.stderr and "URL-decode" in result.stderr


def _encrypted_post() -> tuple[str, str]:
    reply = WeComCrypto(TOKEN, AES_KEY, CORP_ID).encrypt_message(
        "<xml><Content>你好</Content></xml>", "n1", "1700000000"
    )
    return reply, parse_xml_safely(reply).findtext("MsgSignature") or ""


def test_decrypt_encrypt_value_and_xml_file(tmp_path: Path) -> None:
    reply, signature = _encrypted_post()
    base = {
        "--token": TOKEN,
        "--aes-key": AES_KEY,
        "--receive-id": CORP_ID,
        "--timestamp": "1700000000",
        "--nonce": "n1",
        "--msg-signature": signature,
    }
    ciphertext = parse_xml_safely(reply).findtext("Encrypt") or ""
    result = runner.invoke(app, _args("decrypt", {**base, "--encrypt": ciphertext}))
    assert result.exit_code == 0 and result.stdout == "<xml><Content>你好</Content></xml>\n"
    body = tmp_path / "post.xml"
    body.write_text(reply, encoding="utf-8")
    result = runner.invoke(app, _args("decrypt", {**base, "--xml": str(body)}, "--json"))
    assert json.loads(result.stdout) == {"message": "<xml><Content>你好</Content></xml>"}
    result = runner.invoke(app, _args("decrypt", {**base, "--xml": "-"}), input=reply)
    assert result.exit_code == 0 and "你好" in result.stdout


def test_decrypt_hostile_xml_is_refused(tmp_path: Path) -> None:
    body = tmp_path / "evil.xml"
    body.write_text(
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
        encoding="utf-8",
    )
    options = {
        "--token": TOKEN,
        "--aes-key": AES_KEY,
        "--receive-id": CORP_ID,
        "--timestamp": "1",
        "--nonce": "n",
        "--msg-signature": "0" * 40,
    }
    result = runner.invoke(app, _args("decrypt", {**options, "--xml": str(body)}))
    assert result.exit_code == 1 and "-40002" in result.stderr and "root:" not in result.stdout


def test_decrypt_needs_exactly_one_input(tmp_path: Path) -> None:
    options = {
        "--token": TOKEN,
        "--aes-key": AES_KEY,
        "--receive-id": CORP_ID,
        "--timestamp": "1",
        "--nonce": "n",
        "--msg-signature": "x",
    }
    assert runner.invoke(app, _args("decrypt", options)).exit_code == 2
    assert runner.invoke(app, _args("decrypt", {**options, "--encrypt": "a", "--xml": "b"})).exit_code == 2
    assert (
        runner.invoke(app, _args("decrypt", {**options, "--xml": str(tmp_path / "../missing.xml")})).exit_code
        == 2
    )


def test_missing_options_are_usage_errors() -> None:
    assert runner.invoke(app, ["wecom", "verify-url", "--token", "x"]).exit_code == 2
    assert "verify-url" in runner.invoke(app, ["wecom", "--help"]).stdout
