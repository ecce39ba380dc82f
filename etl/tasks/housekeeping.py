"""The `housekeeping` DAG's tasks: retention of the CPR-bearing extract zones, and the daily
operations digest (the deliberate red gates of the days before, one mail)."""

from __future__ import annotations

import datetime as dt

from etl.core.settings import Settings


def expire_partitions(extract_date: dt.date, dry_run: bool = False, *, settings: Settings | None = None) -> dict:
    """Delete landing, staged and quarantine partitions past the retention period (counts only)."""
    from etl.ops.housekeeping import run_housekeeping  # noqa: PLC0415 - pandas (~0.4 s): not at DAG parse

    settings = settings if settings is not None else Settings.resolve()
    return run_housekeeping(extract_date, settings, dry_run=dry_run)


def mail_operations_digest(today: dt.date, smtp: dict | None, *, settings: Settings | None = None) -> dict:
    """Mail operations the digest lines of the days before `today` (`etl.ops.digest`); without an
    SMTP connection the lines stay and are mailed once there is one."""
    from etl.ops.digest import mail_digest, pending  # noqa: PLC0415 - with etl.quality's sender: not at DAG parse
    from etl.quality.alerts import send_emails  # noqa: PLC0415 - as above

    settings = settings if settings is not None else Settings.resolve()
    if smtp is None:
        return {"days": [d.isoformat() for d in pending(settings.data_dir, today)], "lines": 0, "mailed": False}
    return mail_digest(settings.data_dir, today, settings.operations_email,
                       lambda messages: send_emails(messages, **smtp))
