"""E-mails to data-quality owners: one summary per owner per run, never a CPR number.

An owner of several breached rules gets one mail listing them all (a mail per rule
trains people to ignore them). The mail carries counts, the trend and where the failing
record ids are, never the ids or any row content; every body passes `assert_no_cpr`
before it can be sent, so a CPR-shaped run id or link fails loudly instead of leaking.

Rules set to `notify: daily_digest` are not mailed again for a breach already mailed
today with the same failing count (`select_breaches_to_mail`); the state is a small
mail log (`<data>/dq/mail_log.json`, `load_mail_log` / `save_mail_log`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import html
import json
import secrets
import smtplib
import ssl
import string
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from pathlib import Path

from etl.core.periods import COPENHAGEN
from etl.core.privacy import assert_no_cpr as assert_cpr_free
from etl.core.storage import atomic_write_json
from etl.quality.runner import Breach, DqOutcome

_SEVERITY_DA = {"error": "fejl", "warning": "advarsel"}
#: What each breach line shows, in order: item key -> Danish label (text and HTML alike).
_LABELS = {"source": "Kilde", "failing": "Fejlende", "threshold": "Tærskel", "severity": "Alvorlighed",
           "change": "Udvikling", "todo": "Hvad gør du", "where": "Fejlende id'er"}
_FOOTER = "Mailen indeholder aldrig CPR-numre; de fejlende rækker findes med kildens egne id'er."


def assert_no_cpr(text: str) -> None:
    """Raise when `text` contains a CPR-shaped string; the message never repeats the match."""
    assert_cpr_free(text, "an e-mail")


def build_owner_emails(outcome: DqOutcome, run_id: str, run_url: str, failures_location: str,
                       sender: str) -> list[EmailMessage]:
    """One multipart (text + HTML) e-mail per owner, listing that owner's breached rules.

    `failures_location` is the table holding the failing ids (e.g. `mart.dq_failure`);
    each rule gets the query that lists its rows there.
    """
    return _owner_emails(outcome.breaches, run_id, run_url, failures_location, sender)


def build_owner_emails_from_breaches(breaches: Iterable[Mapping], run_id: str, run_url: str, sender: str,
                                     failures_location: str = "mart.dq_failure") -> list[EmailMessage]:
    """The same e-mails from breaches passed between tasks as plain dicts (XCom carries no objects)."""
    return _owner_emails([Breach(**{**b, "owners": tuple(b["owners"])}) for b in breaches],
                         run_id, run_url, failures_location, sender)


def _owner_emails(breaches: list[Breach], run_id: str, run_url: str, failures_location: str,
                  sender: str) -> list[EmailMessage]:
    by_owner: dict[str, list[Breach]] = {}
    for breach in breaches:
        for owner in breach.owners:
            by_owner.setdefault(owner, []).append(breach)
    messages = []
    for owner, owned in sorted(by_owner.items()):
        rule_count = len({b.rule_id for b in owned})
        noun = "datakvalitetsregel" if rule_count == 1 else "datakvalitetsregler"
        items = [_item(b, run_id, failures_location) for b in owned]
        text = _text_body(items, run_id, run_url)
        html_body = _html_body(items, run_id, run_url)
        subject = f"[sofli] {rule_count} {noun} overskredet (run {run_id})"
        for part in (subject, text, html_body):
            assert_no_cpr(part)
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = sender
        message["To"] = owner
        message["Date"] = email.utils.format_datetime(dt.datetime.now(COPENHAGEN).replace(microsecond=0))
        # quoted-printable and a letters-only boundary keep the raw message free of digit
        # runs too, so a grep of saved mails for CPR-shaped strings finds nothing
        message.set_content(text, cte="quoted-printable")
        message.add_alternative(html_body, subtype="html", cte="quoted-printable")
        message.set_boundary("=_sofli_" + "".join(secrets.choice(string.ascii_letters) for _ in range(24)))
        messages.append(message)
    return messages


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


def _item(breach: Breach, run_id: str, failures_location: str) -> dict[str, str]:
    """The facts of one breach as display strings, shared by the text and HTML bodies."""
    return {
        "heading": f"{breach.rule_id} {breach.title}",
        "source": breach.source,
        "failing": f"{breach.failing} af {breach.population} rækker ({_percent(breach.rate)})",
        "threshold": (f"højst {_percent(breach.threshold)} fejlende rækker" if breach.threshold_kind == "rate"
                      else f"højst {breach.threshold:g} fejlende rækker"),
        "severity": _SEVERITY_DA[breach.severity],
        "change": _change(breach.failing, breach.previous_failing),
        "todo": breach.description,
        "where": (f"{failures_location} WHERE run_id='{run_id}' AND rule_id='{breach.rule_id}' "
                  f"AND source='{breach.source}'"),
    }


def _text_body(items: list[dict[str, str]], run_id: str, run_url: str) -> str:
    lines = [_intro(len(items), run_id), ""]
    for item in items:
        lines.append(item["heading"])
        lines += [f"  {label}: {item[key]}" for key, label in _LABELS.items()]
        lines.append("")
    lines += [f"Kørslen: {run_url}", "", _FOOTER]
    return "\n".join(lines) + "\n"


def _html_body(items: list[dict[str, str]], run_id: str, run_url: str) -> str:
    e = html.escape
    header = "".join(f"<th>{e(label)}</th>" for label in ("Regel", *_LABELS.values()))
    rows = "".join(
        "<tr>" + f"<td>{e(item['heading'])}</td>"
        + "".join(f"<td><code>{e(item[key])}</code></td>" if key == "where" else f"<td>{e(item[key])}</td>"
                  for key in _LABELS)
        + "</tr>"
        for item in items
    )
    return (
        "<!DOCTYPE html><html><body>"
        f"<p>{e(_intro(len(items), run_id))}</p>"
        f'<table border="1" cellpadding="4"><tr>{header}</tr>{rows}</table>'
        f'<p>Kørslen: <a href="{e(run_url, quote=True)}">{e(run_url)}</a></p>'
        f"<p>{e(_FOOTER)}</p>"
        "</body></html>"
    )


def _intro(count: int, run_id: str) -> str:
    exceeded = "1 tærskel" if count == 1 else f"{count} tærskler"
    return f"Kørsel {run_id} har overskredet {exceeded} i datakvalitetsregler, som du ejer:"


def _percent(share: float | None) -> str:
    return "ingen rækker" if share is None else f"{share * 100:.1f} %".replace(".", ",")


def _change(failing: int, previous_failing: int | None) -> str:
    if previous_failing is None:
        return "ny"
    delta = failing - previous_failing
    if delta == 0:
        return "uændret"
    return f"{delta:+d} siden sidste kørsel ({'værre' if delta > 0 else 'bedre'})"


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
    breaches = [b if isinstance(b, Breach) else Breach(**{**b, "owners": tuple(b["owners"])}) for b in breaches]
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
