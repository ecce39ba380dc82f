"""What operations hear when a task fails: which task, why, and never the same red gate every night.

A task that fails by accident (a source is down, a disk is full) mails operations at once
with the task, the run and the exception's message (`failure_reason`: the message carries
no source values by policy, and CPR-shaped text is masked anyway). A task that fails on
purpose, the data-quality gate turning the night red on an error-rule breach, is the data
owners' business (they already have their mail): it becomes one line in the daily
operations digest (`record`), which the `housekeeping` DAG mails at 05:30 (`digest_email`,
`mail_digest`), so a breach that lasts a week is seven lines in seven short mails, not
seven alarms.

The digest is a folder of one JSON-lines file per day under `<data>/ops/digest/`; a day's
file is renamed `.sent` once mailed, so a failed send is retried by the next run.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from etl.core.periods import COPENHAGEN
from etl.core.privacy import assert_no_cpr, mask_cpr

log = logging.getLogger(__name__)

#: Longest reason a mail quotes (a traceback's message can be long; the log has the rest).
MAX_REASON = 600
_MASKED = "(CPR-lignende værdi udeladt)"


class DeliberateFailure(RuntimeError):
    """A task failing on purpose (a gate): one digest line to operations instead of a failure mail."""


def failure_reason(error: BaseException | str | None) -> str:
    """The exception as one readable line: type and message, CPR-shaped text masked, clipped."""
    if error is None or error == "":
        return "ukendt (ingen undtagelse givet; se loggen)"
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = mask_cpr(" ".join(text.split()), _MASKED)
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def is_deliberate(error: BaseException | None) -> bool:
    return isinstance(error, DeliberateFailure)


def digest_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "ops" / "digest"


def record(data_dir: Path, day: dt.date, dag_id: str, task_id: str, run_id: str, reason: str) -> Path:
    """Append one line to `day`'s digest (its date is the day the task failed, Copenhagen)."""
    path = digest_dir(data_dir) / f"{day.isoformat()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"dag_id": dag_id, "task_id": task_id, "run_id": run_id, "reason": failure_reason(reason)}
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def pending(data_dir: Path, before: dt.date) -> dict[dt.date, list[dict]]:
    """The digest lines of the days before `before` not yet mailed, oldest day first."""
    days = {}
    for path in sorted(digest_dir(data_dir).glob("*.jsonl")):
        day = dt.date.fromisoformat(path.stem)
        if day < before:
            days[day] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return days


def digest_email(days: dict[dt.date, list[dict]], to: str, sender: str,
                 now: dt.datetime | None = None) -> EmailMessage | None:
    """One plain-text mail with a line per deliberate failure; None when there is nothing."""
    from etl.report import fmt  # noqa: PLC0415 - etl.report loads the renderer: not at every DAG parse
    lines = [(day, entry) for day, entries in days.items() for entry in entries]
    if not lines:
        return None
    count = len(lines)
    first, last = min(days), max(days)
    span = fmt.date(first) if first == last else f"{fmt.date(first)} – {fmt.date(last)}"
    body = [f"Driftsoversigt for {span}: {fmt.number(count)} {'bevidst rød kørsel' if count == 1 else 'bevidst røde kørsler'} "
            "(datakvalitetsporten stoppede natten ved brud på en fejlregel; reglernes ejere har fået deres mail).", ""]
    body += [f"- {fmt.date(day)}: {e['dag_id']}.{e['task_id']} ({e['run_id']}): {e['reason']}" for day, e in lines]
    body += ["", "Uventede fejl kommer stadig som en mail pr. fejlet task, med det samme."]
    text = "\n".join(body) + "\n"
    # ASCII only: Python's header folding can double a space before an encoded word at a fold
    subject = (f"[sofli] Driftsoversigt {span}: datakvalitetsporten stoppede natten {fmt.number(count)} "
               f"{'gang' if count == 1 else 'gange'}")
    for part in (subject, text):
        assert_no_cpr(part, "the operations digest")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    moment = (now or dt.datetime.now(COPENHAGEN)).astimezone(COPENHAGEN).replace(microsecond=0)
    message["Date"] = email.utils.format_datetime(moment)
    message["Message-ID"] = email.utils.make_msgid(idstring="sofli-ops", domain=sender.rsplit("@", 1)[-1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, cte="quoted-printable")
    return message


def mail_digest(data_dir: Path, today: dt.date, to: str, send: Callable[[list[EmailMessage]], int],
                sender: str = "sofli@sofli.example") -> dict:
    """Mail the days before `today` not yet mailed, then mark them sent (a failed send retries tomorrow)."""
    days = pending(data_dir, today)
    message = digest_email(days, to, sender)
    if message is not None:
        send([message])
    for day in days:
        path = digest_dir(data_dir) / f"{day.isoformat()}.jsonl"
        path.rename(path.with_suffix(".sent"))
    lines = sum(len(v) for v in days.values())
    log.info("operations digest: %d line(s) of %d day(s) mailed to %s", lines, len(days), to if lines else "nobody")
    return {"days": [d.isoformat() for d in days], "lines": lines, "mailed": message is not None}
