"""``groupops wecom``: debug a WeCom callback setup (verify the URL echo, decrypt a message)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from groupops.cli._common import JsonOption, emit_json, error_console, open_text_input

if TYPE_CHECKING:
    from groupops.wecom.crypto import WeComCrypto

__all__ = ["register"]

wecom_app = typer.Typer(
    help="WeCom callback tools for admins: check the Token / EncodingAESKey / corp id against a real request.",
    no_args_is_help=True,
)

TokenOption = Annotated[
    str, typer.Option("--token", help="Callback Token from the WeCom admin console.", show_default=False)
]
AesKeyOption = Annotated[
    str, typer.Option("--aes-key", help="Callback EncodingAESKey (43 characters).", show_default=False)
]
ReceiveIdOption = Annotated[
    str,
    typer.Option(
        "--receive-id", help="Corp id (ww…/wx…), or the suite id for third-party apps.", show_default=False
    ),
]
TimestampOption = Annotated[
    str, typer.Option("--timestamp", help="The request's timestamp parameter.", show_default=False)
]
NonceOption = Annotated[
    str, typer.Option("--nonce", help="The request's nonce parameter.", show_default=False)
]
SignatureOption = Annotated[
    str, typer.Option("--msg-signature", help="The request's msg_signature parameter.", show_default=False)
]


@contextmanager
def _explain_wecom_errors() -> Iterator[None]:
    from groupops.wecom.crypto import WeComCryptoError, hint_for

    try:
        yield
    except WeComCryptoError as error:
        error_console.print(f"[red]error:[/red] {error}", markup=True, highlight=False)
        error_console.print(hint_for(error.code), markup=False, highlight=False)
        raise typer.Exit(1) from error


def _crypto(token: str, aes_key: str, receive_id: str) -> WeComCrypto:
    from groupops.wecom.crypto import WeComCrypto

    return WeComCrypto(token, aes_key, receive_id)


@wecom_app.command("verify-url")
def verify_url_command(
    token: TokenOption,
    aes_key: AesKeyOption,
    receive_id: ReceiveIdOption,
    timestamp: TimestampOption,
    nonce: NonceOption,
    msg_signature: SignatureOption,
    echostr: Annotated[
        str,
        typer.Option("--echostr", help="The request's echostr parameter, URL-decoded.", show_default=False),
    ],
    json_output: JsonOption = False,
) -> None:
    """Check a URL-verification request and print the plain echo your server must answer with."""
    with _explain_wecom_errors():
        echo = _crypto(token, aes_key, receive_id).verify_url(msg_signature, timestamp, nonce, echostr)
    if json_output:
        emit_json({"echo": echo})
    else:
        typer.echo(echo)


@wecom_app.command("decrypt")
def decrypt_command(
    token: TokenOption,
    aes_key: AesKeyOption,
    receive_id: ReceiveIdOption,
    timestamp: TimestampOption,
    nonce: NonceOption,
    msg_signature: SignatureOption,
    encrypt: Annotated[
        str | None, typer.Option("--encrypt", help="The Encrypt value of the POST body.", show_default=False)
    ] = None,
    xml: Annotated[
        str | None,
        typer.Option("--xml", help="File with the raw POST body ('-' for stdin).", show_default=False),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check and decrypt a callback POST; prints the plain message XML."""
    if (encrypt is None) == (xml is None):
        raise typer.BadParameter("give exactly one of --encrypt or --xml")
    if xml is not None:
        with open_text_input(xml) as handle:
            encrypt = handle.read()
    assert encrypt is not None
    with _explain_wecom_errors():
        message = _crypto(token, aes_key, receive_id).decrypt_message(
            encrypt, msg_signature, timestamp, nonce
        )
    if json_output:
        emit_json({"message": message})
    else:
        typer.echo(message)


def register(app: typer.Typer) -> None:
    """Add the ``wecom`` command group."""
    app.add_typer(wecom_app, name="wecom")
