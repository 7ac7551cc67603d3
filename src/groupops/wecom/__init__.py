"""WeCom integration: callback crypto, callback messages, the server API client and senders."""
