"""WXBizMsgCrypt against Tencent's published sample vectors, round trips and tampering."""

from __future__ import annotations

import base64
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupops.errors import GroupOpsError
from groupops.wecom.crypto import (
    WeComCrypto,
    WeComCryptoError,
    WeComCryptoErrorCode,
    parse_xml_safely,
    signature_for,
)

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
# The POST ciphertext of Tencent's Python sample.py as commonly reproduced; the copy we have is
# cut short (381 base64 characters), so only its first 17 AES blocks can be checked.
SAMPLE_POST_CIPHERTEXT_PREFIX = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJ"
    "YuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUc"
    "allcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS"
)


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def _code(excinfo: pytest.ExceptionInfo[WeComCryptoError]) -> int:
    return excinfo.value.code


def test_published_verify_url_vector(crypto: WeComCrypto) -> None:
    assert crypto.verify_url(**VERIFY) == "1616140317555161061"


def test_published_signature_is_sha1_of_sorted_parts() -> None:
    assert (
        signature_for(TOKEN, VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"])
        == VERIFY["msg_signature"]
    )


def test_sample_post_blocks_decrypt_with_the_sample_key(crypto: WeComCrypto) -> None:
    encrypted = base64.b64decode(SAMPLE_POST_CIPHERTEXT_PREFIX[:380])
    decryptor = crypto._cipher().decryptor()  # raw blocks: the truncated sample has no padding
    blocks = decryptor.update(encrypted[:272]) + decryptor.finalize()
    (length,) = struct.unpack(">I", blocks[16:20])
    message = blocks[20:].decode("utf-8")
    assert length == 284
    assert message.startswith("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>")
    assert "<FromUserName><![CDATA[mycreate]]></FromUserName>" in message
    assert "<CreateTime>1409659813</CreateTime>" in message
    assert "<MsgType><![CDATA[text]]></MsgType>" in message
    assert "<Content><![CDATA[hello]]></Content>" in message
    assert "<MsgId>4561255354251345929" in message


def test_truncated_sample_post_is_refused_on_signature(crypto: WeComCrypto) -> None:
    post = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{SAMPLE_POST_CIPHERTEXT_PREFIX}]]></Encrypt></xml>"
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.decrypt_message(post, "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149")
    assert _code(excinfo) == -40001


def test_encrypt_then_decrypt_reply(crypto: WeComCrypto) -> None:
    reply = crypto.encrypt_message(
        "<xml><Content><![CDATA[你好]]></Content></xml>", "1372623149", "1409659813"
    )
    root = parse_xml_safely(reply)
    signature = root.findtext("MsgSignature") or ""
    assert root.findtext("TimeStamp") == "1409659813"
    assert root.findtext("Nonce") == "1372623149"
    assert crypto.decrypt_message(reply, signature, "1409659813", "1372623149").endswith(
        "你好]]></Content></xml>"
    )


def test_encrypt_is_deterministic_with_injected_randomness() -> None:
    fixed = WeComCrypto(
        TOKEN, AES_KEY, CORP_ID, random_bytes=lambda n: b"0960688932c47ef1"[:n], clock=lambda: 1409659813.9
    )
    first = fixed.encrypt_message("hello", "abc")
    assert first == fixed.encrypt_message("hello", "abc")
    assert "<TimeStamp>1409659813</TimeStamp>" in first


def test_decrypt_accepts_a_bare_ciphertext(crypto: WeComCrypto) -> None:
    reply = parse_xml_safely(crypto.encrypt_message("plain", "n1", "1"))
    ciphertext = reply.findtext("Encrypt") or ""
    assert crypto.decrypt_message(ciphertext, reply.findtext("MsgSignature") or "", "1", "n1") == "plain"


@settings(max_examples=60, deadline=None)
@given(
    plain=st.text(max_size=3000),
    nonce=st.from_regex(r"\A[0-9A-Za-z]{1,20}\Z"),
    timestamp=st.integers(min_value=0, max_value=2**40),
)
def test_round_trip_property(plain: str, nonce: str, timestamp: int) -> None:
    plain = plain.replace("\ud800", "")  # lone surrogates cannot be UTF-8 encoded
    try:
        plain.encode("utf-8")
    except UnicodeEncodeError:
        return
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    reply = parse_xml_safely(crypto.encrypt_message(plain, nonce, timestamp))
    ciphertext = reply.findtext("Encrypt") or ""
    assert len(base64.b64decode(ciphertext)) % 32 == 0
    assert (
        crypto.decrypt_message(ciphertext, reply.findtext("MsgSignature") or "", str(timestamp), nonce)
        == plain
    )


@settings(max_examples=30, deadline=None)
@given(receive_id=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=40))
def test_round_trip_with_any_receive_id(receive_id: str) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, receive_id)
    ciphertext = parse_xml_safely(crypto.encrypt_message("x", "n", "1")).findtext("Encrypt") or ""
    assert crypto._decrypt(ciphertext) == "x"


def test_tampered_signature_is_refused(crypto: WeComCrypto) -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.verify_url(**{**VERIFY, "msg_signature": "0" * 40})
    assert _code(excinfo) == WeComCryptoErrorCode.ValidateSignature_Error == -40001


@pytest.mark.parametrize("field", ["timestamp", "nonce"])
def test_tampered_timestamp_or_nonce_is_refused(crypto: WeComCrypto, field: str) -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.verify_url(**{**VERIFY, field: VERIFY[field] + "1"})
    assert _code(excinfo) == -40001


def test_wrong_token_is_refused() -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        WeComCrypto("QDG6eL", AES_KEY, CORP_ID).verify_url(**VERIFY)
    assert _code(excinfo) == -40001


def test_wrong_receive_id_is_refused() -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        WeComCrypto(TOKEN, AES_KEY, "wx0000000000000000").verify_url(**VERIFY)
    assert _code(excinfo) == WeComCryptoErrorCode.ValidateCorpid_Error == -40005


def test_wrong_aes_key_gives_a_buffer_error() -> None:
    other_key = "A" * 43
    with pytest.raises(WeComCryptoError) as excinfo:
        WeComCrypto(TOKEN, other_key, CORP_ID).verify_url(**VERIFY)
    assert _code(excinfo) in (-40005, -40007, -40008)


def _signed(crypto: WeComCrypto, ciphertext: str) -> tuple[str, str, str, str]:
    return ciphertext, signature_for(TOKEN, "1", "n", ciphertext), "1", "n"


def test_bad_padding_is_refused(crypto: WeComCrypto) -> None:
    encryptor = crypto._cipher().encryptor()
    body = b"0" * 16 + struct.pack(">I", 5) + b"hello" + CORP_ID.encode() + b"\x00" * 25  # pad byte 0
    ciphertext = base64.b64encode(encryptor.update(body[:64]) + encryptor.finalize()).decode()
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.decrypt_message(*_signed(crypto, ciphertext))
    assert _code(excinfo) == -40008


def test_ciphertext_not_a_block_multiple_is_refused(crypto: WeComCrypto) -> None:
    ciphertext = base64.b64encode(b"x" * 20).decode()
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.decrypt_message(*_signed(crypto, ciphertext))
    assert _code(excinfo) == -40007


def test_length_field_beyond_data_is_refused(crypto: WeComCrypto) -> None:
    encryptor = crypto._cipher().encryptor()
    body = b"0" * 16 + struct.pack(">I", 10_000) + b"hi"
    padded = body + bytes([32 - len(body) % 32]) * (32 - len(body) % 32)
    ciphertext = base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.decrypt_message(*_signed(crypto, ciphertext))
    assert _code(excinfo) == -40008


@pytest.mark.parametrize("ciphertext", ["not base64!!", "abc", "ab=c" * 4, "中文"])
def test_bad_base64_is_refused(crypto: WeComCrypto, ciphertext: str) -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.decrypt_message(*_signed(crypto, ciphertext))
    assert _code(excinfo) == WeComCryptoErrorCode.DecodeBase64_Error == -40010


@pytest.mark.parametrize("key", ["", "short", AES_KEY + "x", AES_KEY[:-1], "!" * 43])
def test_illegal_aes_key_is_refused(key: str) -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        WeComCrypto(TOKEN, key, CORP_ID)
    assert _code(excinfo) == WeComCryptoErrorCode.IllegalAesKey == -40004


@pytest.mark.parametrize(
    "post",
    [
        "<xml><Encrypt>",
        "<xml><ToUserName>x</ToUserName></xml>",
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><xml><Encrypt>&lol;</Encrypt></xml>',
        '<!DOCTYPE x SYSTEM "file:///etc/passwd"><xml><Encrypt>a</Encrypt></xml>',
        "<xml><Encrypt></Encrypt></xml>",
    ],
)
def test_malformed_or_hostile_xml_is_refused(crypto: WeComCrypto, post: str) -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.decrypt_message(post, "0" * 40, "1", "n")
    assert _code(excinfo) == WeComCryptoErrorCode.ParseXml_Error == -40002


def test_huge_xml_is_refused(crypto: WeComCrypto) -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.decrypt_message("<xml><Encrypt>" + "A" * 1_100_000 + "</Encrypt></xml>", "0" * 40, "1", "n")
    assert _code(excinfo) == -40002


@pytest.mark.parametrize("nonce", ["", "]]><x>", "a b", "n" * 65])
def test_encrypt_refuses_nonces_that_would_break_the_reply_xml(crypto: WeComCrypto, nonce: str) -> None:
    with pytest.raises(WeComCryptoError) as excinfo:
        crypto.encrypt_message("x", nonce)
    assert _code(excinfo) == WeComCryptoErrorCode.GenReturnXml_Error == -40011


def test_error_is_a_groupops_error_and_names_the_code() -> None:
    error = WeComCryptoError(-40004, "bad key")
    assert isinstance(error, GroupOpsError)
    assert error.code_name == "IllegalAesKey"
    assert "-40004" in str(error) and "bad key" in str(error)


def test_all_documented_codes_exist() -> None:
    assert sorted(code.value for code in WeComCryptoErrorCode) == list(range(-40011, -40000))
