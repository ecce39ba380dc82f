"""An SMTP server in this process that stores every message it receives as a `.eml` file.

The embedded demo (and the tests) point Airflow's SMTP connection at it, so the alert
e-mails travel through real SMTP and land in a folder a newcomer can open.
"""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from etl.core.storage import atomic_write_bytes, private_dir


class _SaveToFolder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd hook
        self.count += 1
        # 0600: an alert's attachment lists the failing records with the sources' caseworker ids
        atomic_write_bytes(self.folder / f"{self.count:04d}.eml", envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailSink:
    """`with MailSink(folder) as sink:` — listens on 127.0.0.1:`sink.port` until exit."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = private_dir(folder)
        self.port = port or free_port()
        self._controller = Controller(_SaveToFolder(folder), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(self.folder.glob("*.eml"))]
