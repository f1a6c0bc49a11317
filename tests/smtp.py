"""A real SMTP server on loopback (aiosmtpd), as a plant's mail relay: it keeps what it is sent."""

from __future__ import annotations

import email
import socket
from email.message import Message

from aiosmtpd.controller import Controller


class MailServer:
    """Accepts every message (or answers `refuse_with`, an SMTP reply like "451 try later") and keeps them."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []
        self.refuse_with: str | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - the name aiosmtpd calls
        if self.refuse_with:
            return self.refuse_with
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def start(self) -> MailServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def use_in(self, settings) -> None:
        """Point Django's mail at this server (the test settings' default is the in-memory outbox)."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    def to(self, address: str) -> list[Message]:
        return [message for rcpt, message in self.received if address in rcpt]
