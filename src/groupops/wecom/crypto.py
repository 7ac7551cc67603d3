"""WeCom callback encryption (WXBizMsgCrypt), exactly as WeCom specifies it.

Signature: SHA-1 of the sorted concatenation of token, timestamp, nonce and ciphertext.
Cipher: AES-256-CBC with key = base64(EncodingAESKey + "=") and IV = key[:16]; PKCS#7 padding
to 32-byte blocks. Plaintext: 16 random bytes, 4-byte big-endian message length, message,
receive id (the corp id, or the suite id for third-party apps).

Errors carry WeCom's own codes (-40001 … -40011) so an admin can match them with the
WeCom documentation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from enum import IntEnum

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from groupops.errors import GroupOpsError

__all__ = [
    "MAX_CALLBACK_XML_BYTES",
    "WeComCrypto",
    "WeComCryptoError",
    "WeComCryptoErrorCode",
    "hint_for",
    "parse_xml_safely",
    "signature_for",
]

MAX_CALLBACK_XML_BYTES = 1_000_000
_PADDING_BLOCK_BYTES = 32
_RANDOM_PREFIX_BYTES = 16
_NONCE_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_FORBIDDEN_XML_MARKUP = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class WeComCryptoErrorCode(IntEnum):
    """WeCom's WXBizMsgCrypt error codes."""

    ValidateSignature_Error = -40001
    ParseXml_Error = -40002
    ComputeSignature_Error = -40003
    IllegalAesKey = -40004
    ValidateCorpid_Error = -40005
    EncryptAES_Error = -40006
    DecryptAES_Error = -40007
    IllegalBuffer = -40008
    EncodeBase64_Error = -40009
    DecodeBase64_Error = -40010
    GenReturnXml_Error = -40011


class WeComCryptoError(GroupOpsError):
    """A callback could not be verified, decrypted or encrypted; ``code`` is WeCom's code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"WeCom error {code} ({WeComCryptoErrorCode(code).name}): {message}")
        self.code = code
        self.code_name = WeComCryptoErrorCode(code).name
        self.reason = message


_HINTS = {
    WeComCryptoErrorCode.ValidateSignature_Error: (
        "Check the Token (it must equal the callback Token in the WeCom admin console) and that timestamp, "
        "nonce, msg_signature and echostr/Encrypt come unmodified from the same request."
    ),
    WeComCryptoErrorCode.ParseXml_Error: (
        "Pass the raw POST body exactly as WeCom sent it (an <xml> with an <Encrypt> element), or only the "
        "Encrypt value with --encrypt."
    ),
    WeComCryptoErrorCode.ComputeSignature_Error: "Check that token, timestamp and nonce are plain text.",
    WeComCryptoErrorCode.IllegalAesKey: (
        "Check the EncodingAESKey: it must be exactly 43 letters and digits, copied from the admin console."
    ),
    WeComCryptoErrorCode.ValidateCorpid_Error: (
        "Check the receive id: the corp id (企业ID, ww…/wx…) for a self-built app, the suite id for a "
        "third-party app."
    ),
    WeComCryptoErrorCode.EncryptAES_Error: "Check the EncodingAESKey and that the message is valid text.",
    WeComCryptoErrorCode.DecryptAES_Error: (
        "The ciphertext is damaged or truncated; copy the whole echostr/Encrypt value again."
    ),
    WeComCryptoErrorCode.IllegalBuffer: (
        "Decryption gave garbage: the EncodingAESKey most likely differs from the one configured for this URL."
    ),
    WeComCryptoErrorCode.EncodeBase64_Error: "Encoding the reply failed; check the EncodingAESKey.",
    WeComCryptoErrorCode.DecodeBase64_Error: (
        "The echostr/Encrypt value is not valid base64: URL-decode it first (%2B → +, %2F → /, %3D → =) and "
        "make sure no '+' turned into a space."
    ),
    WeComCryptoErrorCode.GenReturnXml_Error: "Use a nonce of letters and digits and a numeric timestamp.",
}


def hint_for(code: int) -> str:
    """One sentence telling an admin what to check for a WeCom crypto error code."""
    try:
        return _HINTS[WeComCryptoErrorCode(code)]
    except ValueError:
        return "Unknown WeCom error code; compare it with WeCom's callback documentation."


def signature_for(token: str, timestamp: str, nonce: str, ciphertext: str) -> str:
    """The msg_signature WeCom computes: sha1 over the sorted four strings, hex digest."""
    try:
        joined = "".join(sorted([token, str(timestamp), str(nonce), ciphertext]))
        return hashlib.sha1(joined.encode("utf-8")).hexdigest()
    except (TypeError, UnicodeEncodeError) as error:
        raise WeComCryptoError(WeComCryptoErrorCode.ComputeSignature_Error, str(error)) from error


def parse_xml_safely(xml_text: str) -> ElementTree.Element:
    """Parse callback XML, refusing DTDs and entity declarations (no entity expansion attacks)."""
    if len(xml_text.encode("utf-8", errors="replace")) > MAX_CALLBACK_XML_BYTES:
        raise WeComCryptoError(WeComCryptoErrorCode.ParseXml_Error, "XML body is larger than 1 MB")
    if _FORBIDDEN_XML_MARKUP.search(xml_text):
        raise WeComCryptoError(WeComCryptoErrorCode.ParseXml_Error, "XML with a DOCTYPE or ENTITY is refused")
    try:
        return ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as error:
        raise WeComCryptoError(WeComCryptoErrorCode.ParseXml_Error, f"malformed XML: {error}") from error


def _decode_aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise WeComCryptoError(
            WeComCryptoErrorCode.IllegalAesKey,
            f"EncodingAESKey must be 43 characters, got {len(encoding_aes_key)}",
        )
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as error:
        raise WeComCryptoError(
            WeComCryptoErrorCode.IllegalAesKey, "EncodingAESKey is not valid base64 text"
        ) from error
    if len(key) != 32:
        raise WeComCryptoError(
            WeComCryptoErrorCode.IllegalAesKey, "EncodingAESKey does not decode to 32 bytes"
        )
    return key


def _pkcs7_pad(data: bytes) -> bytes:
    amount = _PADDING_BLOCK_BYTES - len(data) % _PADDING_BLOCK_BYTES
    return data + bytes([amount]) * amount


def _pkcs7_unpad(data: bytes) -> bytes:
    amount = data[-1] if data else 0
    if (
        not 1 <= amount <= _PADDING_BLOCK_BYTES
        or amount > len(data)
        or data[-amount:] != bytes([amount]) * amount
    ):
        raise WeComCryptoError(
            WeComCryptoErrorCode.IllegalBuffer, "decrypted data has invalid PKCS#7 padding"
        )
    return data[:-amount]


class WeComCrypto:
    """Verify, decrypt and encrypt WeCom callback messages for one token / key / receive id."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_id: str,
        *,
        random_bytes: Callable[[int], bytes] = os.urandom,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.receive_id = receive_id
        self._key = _decode_aes_key(encoding_aes_key)
        self._random_bytes = random_bytes
        self._clock = clock

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Check a URL-verification GET and return the plain echo to answer with."""
        self._check_signature(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt_message(
        self, post_xml_or_ciphertext: str, msg_signature: str, timestamp: str, nonce: str
    ) -> str:
        """Check and decrypt a callback POST (its XML body, or the bare Encrypt value)."""
        ciphertext = self._ciphertext_from(post_xml_or_ciphertext)
        self._check_signature(msg_signature, timestamp, nonce, ciphertext)
        return self._decrypt(ciphertext)

    def encrypt_message(self, plain: str, nonce: str, timestamp: str | int | None = None) -> str:
        """Encrypt a passive reply; returns the XML with Encrypt, MsgSignature, TimeStamp and Nonce."""
        if not _NONCE_PATTERN.match(nonce):
            raise WeComCryptoError(
                WeComCryptoErrorCode.GenReturnXml_Error, "nonce must be 1-64 letters, digits, '-' or '_'"
            )
        stamp = str(int(self._clock())) if timestamp is None else str(timestamp)
        if not stamp.isdigit():
            raise WeComCryptoError(WeComCryptoErrorCode.GenReturnXml_Error, "timestamp must be digits")
        ciphertext = self._encrypt(plain)
        signature = signature_for(self.token, stamp, nonce, ciphertext)
        return (
            f"<xml><Encrypt><![CDATA[{ciphertext}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{stamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

    def _ciphertext_from(self, post_xml_or_ciphertext: str) -> str:
        text = post_xml_or_ciphertext.strip()
        if not text.startswith("<"):
            return text
        encrypt_element = parse_xml_safely(text).find("Encrypt")
        if encrypt_element is None or not (encrypt_element.text or "").strip():
            raise WeComCryptoError(WeComCryptoErrorCode.ParseXml_Error, "the XML has no <Encrypt> element")
        return (encrypt_element.text or "").strip()

    def _check_signature(self, msg_signature: str, timestamp: str, nonce: str, ciphertext: str) -> None:
        expected = signature_for(self.token, timestamp, nonce, ciphertext)
        if not hmac.compare_digest(expected.encode("ascii"), msg_signature.strip().lower().encode("utf-8")):
            raise WeComCryptoError(
                WeComCryptoErrorCode.ValidateSignature_Error,
                "msg_signature does not match token/timestamp/nonce",
            )

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def _encrypt(self, plain: str) -> str:
        try:
            message = plain.encode("utf-8")
            body = (
                self._random_bytes(_RANDOM_PREFIX_BYTES)
                + struct.pack(">I", len(message))
                + message
                + self.receive_id.encode("utf-8")
            )
            encryptor = self._cipher().encryptor()
            encrypted = encryptor.update(_pkcs7_pad(body)) + encryptor.finalize()
        except (ValueError, UnicodeEncodeError, struct.error) as error:
            raise WeComCryptoError(WeComCryptoErrorCode.EncryptAES_Error, str(error)) from error
        try:
            return base64.b64encode(encrypted).decode("ascii")
        except (binascii.Error, ValueError) as error:  # pragma: no cover - b64encode of bytes cannot fail
            raise WeComCryptoError(WeComCryptoErrorCode.EncodeBase64_Error, str(error)) from error

    def _decrypt(self, ciphertext: str) -> str:
        try:
            encrypted = base64.b64decode(ciphertext.strip(), validate=True)
        except (binascii.Error, ValueError) as error:
            raise WeComCryptoError(
                WeComCryptoErrorCode.DecodeBase64_Error, "ciphertext is not valid base64"
            ) from error
        if not encrypted or len(encrypted) % 16:
            raise WeComCryptoError(
                WeComCryptoErrorCode.DecryptAES_Error,
                "ciphertext length is not a multiple of the AES block size",
            )
        decryptor = self._cipher().decryptor()
        body = _pkcs7_unpad(decryptor.update(encrypted) + decryptor.finalize())
        return self._message_from(body)

    def _message_from(self, body: bytes) -> str:
        content = body[_RANDOM_PREFIX_BYTES:]
        if len(content) < 4:
            raise WeComCryptoError(WeComCryptoErrorCode.IllegalBuffer, "decrypted data is too short")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise WeComCryptoError(
                WeComCryptoErrorCode.IllegalBuffer, "message length field exceeds the data"
            )
        message, from_receive_id = content[4 : 4 + length], content[4 + length :]
        if not hmac.compare_digest(from_receive_id, self.receive_id.encode("utf-8")):
            raise WeComCryptoError(
                WeComCryptoErrorCode.ValidateCorpid_Error,
                "the message was encrypted for a different receive id",
            )
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as error:
            raise WeComCryptoError(WeComCryptoErrorCode.IllegalBuffer, "message is not UTF-8") from error
