"""WeCom integration: callback crypto, callback messages, the server API client and senders.

A pure library: strings and bytes in, results out; the HTTP transport, clock and sleep are injected.
"""

from groupops.wecom.client import (
    MessageTooLongError,
    NewsArticle,
    RobotRateLimitExceededError,
    WeComApiError,
    WeComClient,
    WeComTransportError,
)
from groupops.wecom.crypto import WeComCrypto, WeComCryptoError, WeComCryptoErrorCode
from groupops.wecom.messages import CallbackEvent, parse_callback_event
from groupops.wecom.senders import (
    ConsoleSender,
    MassSendSender,
    OutgoingMessage,
    RobotSender,
    Sender,
    SendReceipt,
)

__all__ = [
    "CallbackEvent",
    "ConsoleSender",
    "MassSendSender",
    "MessageTooLongError",
    "NewsArticle",
    "OutgoingMessage",
    "RobotRateLimitExceededError",
    "RobotSender",
    "SendReceipt",
    "Sender",
    "WeComApiError",
    "WeComClient",
    "WeComCrypto",
    "WeComCryptoError",
    "WeComCryptoErrorCode",
    "WeComTransportError",
    "parse_callback_event",
]
