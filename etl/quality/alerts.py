"""E-mails to data-quality owners: one per owner per run, with the failing records attached.

An owner gets one mail listing their breaches (a rule × source over its threshold; a
mail per rule trains people to ignore them). The subject and the body count the same
thing, breaches, and the attachment (`sofli-datakvalitet-<date>.csv`) lists every failing
record of those breaches with the source's own identifiers the owner fixes them by:
record id, case number, unit code and caseworker id where the source has them. Never a
CPR: a CPR-shaped cell is replaced before the file is written, and every part passes
`assert_no_cpr` before it can be sent. The mail links the data-quality page under
`SOFLI_BASE_URL`, filtered to the owner. Danish formats throughout (1.234; 12,5 %;
6. december 2026); headers Date (Copenhagen), Message-ID, Auto-Submitted and List-Id.

Rules set to `notify: daily_digest` are not mailed again for a breach already mailed
today with the same failing count (`select_breaches_to_mail`); the state is a small
mail log (`<data>/dq/mail_log.json`, `load_mail_log` / `save_mail_log`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import email.utils
import html
import io
import json
import secrets
import smtplib
import ssl
import string
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from etl.core.periods import COPENHAGEN
from etl.core.privacy import mask_cpr
from etl.core.privacy import assert_no_cpr as assert_cpr_free
from etl.core.storage import atomic_write_json
from etl.quality.runner import Breach
from etl.report import fmt

_SEVERITY_DA = {"error": "fejl", "warning": "advarsel"}
#: What each breach line shows, in order: item key -> Danish label (text and HTML alike).
_LABELS = {"source": "Kilde", "failing": "Fejlende", "threshold": "Tærskel", "severity": "Alvorlighed",
           "change": "Udvikling", "todo": "Hvad gør du", "records": "Rækkerne"}
_FOOTER = ("Mailen og den vedhæftede fil indeholder aldrig CPR-numre; rækkerne findes med kildens egne id'er "
           "(record-id, sagsnummer, enhed, sagsbehandler-id).")
#: The attachment's columns: failure-record column -> Danish header.
ATTACHMENT_COLUMNS = {"rule_id": "regel", "source": "kilde", "source_table": "kildetabel", "record_id": "record_id",
                      "case_number": "sagsnummer", "unit_code": "enhed", "caseworker_id": "sagsbehandler_id",
                      "detail": "begrundelse"}
#: More rows than this are not attached (the mail says how many were left out; the page and
#: `mart.dq_failure` have them all): a mail server refuses a 100 MB attachment.
MAX_ATTACHMENT_ROWS = 50_000
_MASKED = "(CPR-lignende værdi udeladt)"
#: The page the mail links, under the base URL (plugins/sofli_status.py serves it there).
DQ_PAGE_PATH = "/sofli-dq/"


@dataclasses.dataclass(frozen=True)
class MailContext:
    """What every owner's mail of one run shares: the run, its night, where the page is, the sender."""

    run_id: str
    run_date: dt.date
    base_url: str
    sender: str
    now: dt.datetime | None = None  # the Date header; None: now in Copenhagen

    def page_url(self, owner: str) -> str:
        """The data-quality page filtered to `owner`'s breaches."""
        return f"{self.base_url.rstrip('/')}{DQ_PAGE_PATH}?owner={quote(owner, safe='@')}"


def assert_no_cpr(text: str) -> None:
    """Raise when `text` contains a CPR-shaped string; the message never repeats the match."""
    assert_cpr_free(text, "an e-mail")


def as_breaches(breaches: Iterable[Breach | Mapping]) -> list[Breach]:
    """Breaches as objects; XCom hands them over as plain dicts."""
    return [b if isinstance(b, Breach) else Breach(**{**b, "owners": tuple(b["owners"])}) for b in breaches]


def build_owner_emails(breaches: Iterable[Breach | Mapping], failure_records: pd.DataFrame | None,
                       context: MailContext) -> list[EmailMessage]:
    """One multipart e-mail per owner (text + HTML, the failing records as CSV), listing that
    owner's breaches. `failure_records` are the run's failing records
    (`etl.quality.runner.FAILURE_RECORD_COLUMNS`); None or empty attaches none."""
    by_owner: dict[str, list[Breach]] = {}
    for breach in as_breaches(breaches):
        for owner in breach.owners:
            by_owner.setdefault(owner, []).append(breach)
    records = failure_records if failure_records is not None else pd.DataFrame(columns=list(ATTACHMENT_COLUMNS))
    now = (context.now or dt.datetime.now(COPENHAGEN)).astimezone(COPENHAGEN).replace(microsecond=0)
    domain = context.sender.rsplit("@", 1)[-1]
    return [_owner_email(owner, owned, records, context, now, domain) for owner, owned in sorted(by_owner.items())]


def _owner_email(owner: str, owned: list[Breach], records: pd.DataFrame, context: MailContext,
                 now: dt.datetime, domain: str) -> EmailMessage:
    count = len(owned)
    rows = _owned_records(owned, records)
    attached = rows.head(MAX_ATTACHMENT_ROWS)
    filename = f"sofli-datakvalitet-{context.run_date.isoformat()}.csv"
    items = [_item(b, rows, filename) for b in owned]
    failing = sum(b.failing for b in owned)
    intro = (f"Nattens datakvalitetskørsel ({fmt.date(context.run_date)}) har {_breaches_da(count)} af "
             f"datakvalitetsregler, som du ejer, med {fmt.number(failing)} fejlende {_rows_da(failing)} i alt:")
    omitted = (f"Vedhæftet: {fmt.number(len(attached))} af {fmt.number(len(rows))} fejlende rækker (de øvrige "
               f"findes på siden og i mart.dq_failure)." if len(rows) > len(attached) else
               f"Vedhæftet: {filename} med {fmt.number(len(attached))} fejlende {_rows_da(len(attached))}.")
    page = context.page_url(owner)
    text = _text_body(intro, items, omitted, page, context.run_id)
    html_body = _html_body(intro, items, omitted, page, context.run_id)
    subject = (f"[sofli] {_breaches_da(count)} af datakvalitetsregler – {fmt.number(failing)} fejlende "
               f"{_rows_da(failing)} ({fmt.date(context.run_date)})")
    attachment = attachment_csv(attached)
    for part in (subject, text, html_body, attachment):
        assert_no_cpr(part)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = context.sender
    message["To"] = owner
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(idstring="sofli-dq", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a robot
    message["X-Auto-Response-Suppress"] = "All"
    message["List-Id"] = f"sofli datakvalitet <datakvalitet.{domain}>"
    # quoted-printable and a letters-only boundary keep the raw message free of digit
    # runs too, so a grep of saved mails for CPR-shaped strings finds nothing
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html_body, subtype="html", cte="quoted-printable")
    message.add_attachment(attachment, subtype="csv", filename=filename, cte="quoted-printable")
    message.set_boundary("=_sofli_" + "".join(secrets.choice(string.ascii_letters) for _ in range(24)))
    return message


def _owned_records(owned: list[Breach], records: pd.DataFrame) -> pd.DataFrame:
    """The failing records of the owner's breaches, in the mail's order."""
    if records.empty:
        return records
    order = pd.DataFrame({"rule_id": [b.rule_id for b in owned], "source": [b.source for b in owned],
                          "_order": range(len(owned))})
    mine = records.merge(order, on=["rule_id", "source"], how="inner")
    return mine.sort_values(["_order", "record_id"], kind="stable").drop(columns="_order").reset_index(drop=True)


def attachment_csv(records: pd.DataFrame) -> str:
    """The failing records as Danish Excel opens them (semicolons, a BOM), CPR-shaped cells replaced."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(ATTACHMENT_COLUMNS.values())
    for row in records.reindex(columns=list(ATTACHMENT_COLUMNS)).itertuples(index=False):
        writer.writerow([_cell(value) for value in row])
    return "\ufeff" + out.getvalue()


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    text = str(value)
    return mask_cpr(text, _MASKED)


def send_emails(messages: Iterable[EmailMessage], host: str, port: int, login: str | None = None,
                password: str | None = None, starttls: bool = False, timeout: float = 30) -> int:
    """Send over one SMTP connection; returns how many were sent. Credentials come from the caller."""
    messages = list(messages)
    if not messages:
        return 0
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        if starttls:
            smtp.starttls(context=ssl.create_default_context())
        if login:
            smtp.login(login, password or "")
        for message in messages:
            smtp.send_message(message)
    return len(messages)


def _breaches_da(count: int) -> str:
    return f"{fmt.number(count)} {'overskridelse' if count == 1 else 'overskridelser'}"


def _rows_da(count: int) -> str:
    return "række" if count == 1 else "rækker"


def _item(breach: Breach, records: pd.DataFrame, filename: str) -> dict[str, str]:
    """The facts of one breach as display strings, shared by the text and HTML bodies."""
    listed = 0 if records.empty else int(((records["rule_id"] == breach.rule_id)
                                          & (records["source"] == breach.source)).sum())
    return {
        "heading": f"{breach.rule_id} {breach.title}",
        "source": breach.source,
        "failing": f"{fmt.number(breach.failing)} af {fmt.number(breach.population)} {_rows_da(breach.population)} "
                   f"({_percent(breach.rate)})",
        "threshold": (f"højst {_percent(breach.threshold)} fejlende rækker" if breach.threshold_kind == "rate"
                      else f"højst {fmt.number(breach.threshold)} fejlende rækker"),
        "severity": _SEVERITY_DA[breach.severity],
        "change": _change(breach.failing, breach.previous_failing),
        "todo": breach.description,
        "records": f"{fmt.number(listed)} i {filename} (regel {breach.rule_id}, kilde {breach.source})",
    }


def _text_body(intro: str, items: list[dict[str, str]], attached: str, page: str, run_id: str) -> str:
    lines = [intro, ""]
    for item in items:
        lines.append(item["heading"])
        lines += [f"  {label}: {item[key]}" for key, label in _LABELS.items()]
        lines.append("")
    lines += [attached, f"Datakvalitetssiden med dine regler: {page}", f"Kørsel: {run_id}", "", _FOOTER]
    return "\n".join(lines) + "\n"


def _html_body(intro: str, items: list[dict[str, str]], attached: str, page: str, run_id: str) -> str:
    e = html.escape
    header = "".join(f"<th>{e(label)}</th>" for label in ("Regel", *_LABELS.values()))
    rows = "".join(
        "<tr>" + f"<td>{e(item['heading'])}</td>" + "".join(f"<td>{e(item[key])}</td>" for key in _LABELS) + "</tr>"
        for item in items
    )
    return (
        "<!DOCTYPE html><html><body>"
        f"<p>{e(intro)}</p>"
        f'<table border="1" cellpadding="4"><tr>{header}</tr>{rows}</table>'
        f"<p>{e(attached)}</p>"
        f'<p><a href="{e(page, quote=True)}">Datakvalitetssiden med dine regler</a></p>'
        f"<p>Kørsel: {e(run_id)}</p>"
        f"<p>{e(_FOOTER)}</p>"
        "</body></html>"
    )


def _percent(share: float | None) -> str:
    return "ingen rækker" if share is None else f"{fmt.number(share * 100, 1)} %"


def _change(failing: int, previous_failing: int | None) -> str:
    if previous_failing is None:
        return "ny"
    delta = failing - previous_failing
    if delta == 0:
        return "uændret"
    sign = "+" if delta > 0 else "-"
    return f"{sign}{fmt.number(abs(delta))} siden sidste kørsel ({'værre' if delta > 0 else 'bedre'})"


# --- daily digest --------------------------------------------------------------------

#: One mail-log entry per rule × source × owner: when it was last mailed, with what count.
MailLog = dict[tuple[str, str, str], dict]


def select_breaches_to_mail(breaches: Iterable[Breach | Mapping], mail_log: MailLog,
                            today: dt.date) -> tuple[list[Breach], MailLog]:
    """The breaches to mail now (each with only the owners who get it) and the updated log.

    A rule with `notify: immediate` is always mailed. With `daily_digest`, an owner is not
    mailed again for a rule × source already mailed to them `today` with the same failing
    count; a new breach, a changed count, or the next day mails again. Every mailed
    breach is logged; entries of rule × source that no longer breach are dropped, so a
    breach that clears and returns is new. Save the log only after the mails went out.
    """
    breaches = as_breaches(breaches)
    breaching = {(b.rule_id, b.source) for b in breaches}
    log = {key: entry for key, entry in mail_log.items() if key[:2] in breaching}
    selected = []
    for breach in breaches:
        owners = []
        for owner in breach.owners:
            entry = log.get((breach.rule_id, breach.source, owner))
            repeat = (breach.notify == "daily_digest" and entry is not None
                      and entry["last_mailed"] == today.isoformat() and entry["failing"] == breach.failing)
            if not repeat:
                owners.append(owner)
                log[(breach.rule_id, breach.source, owner)] = {"last_mailed": today.isoformat(),
                                                                "failing": breach.failing}
        if owners:
            selected.append(dataclasses.replace(breach, owners=tuple(owners)))
    return selected, log


def load_mail_log(path: str | Path) -> MailLog:
    """The mail log from `path` (`<data>/dq/mail_log.json`); empty when there is none yet."""
    path = Path(path)
    if not path.exists():
        return {}
    entries = json.loads(path.read_text(encoding="utf-8")).get("entries", [])
    return {(e["rule_id"], e["source"], e["owner"]): {"last_mailed": e["last_mailed"], "failing": int(e["failing"])}
            for e in entries}


def save_mail_log(path: str | Path, mail_log: MailLog) -> None:
    """Write the mail log atomically, one entry per rule × source × owner."""
    entries = [{"rule_id": r, "source": s, "owner": o, **entry} for (r, s, o), entry in sorted(mail_log.items())]
    atomic_write_json(Path(path), {"entries": entries})
