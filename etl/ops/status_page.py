"""The data-quality page of the Airflow UI, rendered from the warehouse (no Airflow import).

`plugins/sofli_status.py` mounts it in Airflow's api-server; everything it shows comes
from the published tables the BI layer reads, through the pipeline's own
`etl.publish.warehouse.make_engine`/`read_table`:

- the latest run's status per rule and source (`mart.dq_result` totals, `mart.dq_rule`),
- each rule × source's trend across the last runs (`mart.dq_result` keeps every run),
- source freshness (`mart.source_freshness`) and, per source, when the published figures' extract
  was refreshed, by the night or a daytime refresh (`mart.data_freshness`: "Opdateret kl. HH.MM"),
- per rule × source its breakdown by unit (`mart.dq_result` rows of dimension `unit`).

Filters (query parameters, so the owners' e-mail can link a filtered page): `status`
(`breach` / `pass`), `owner` (an address: the rule × source pairs that mail it, from
`config/dq_rules.yaml`) and `source`. Breaches come first (errors, then warnings), numbers
in Danish formats (1.234; 12,5 %).

The page itself shows only counts, rates and source names. Each row links its failing records
(`failures?run_id=…&rule=…&source=…`: `mart.dq_failure`'s record id, case number, unit and
reason; never a CPR, never the caseworker id), a route the plugin opens only to users allowed to
read the `data_quality` DAG.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable
from urllib.parse import urlencode

import jinja2
import pandas as pd
import sqlalchemy as sa

from etl.core.privacy import mask_cpr
from etl.publish.warehouse import make_engine, read_table

#: How many runs the trend goes back.
HISTORY_RUNS = 14
#: Most failing records the records page lists (the rest: `mart.dq_failure`, or the owner's attachment).
MAX_FAILURE_ROWS = 2000
STATUSES = ("breach", "pass")
#: Who a rule × source mails: (rule_id, source) -> addresses (the plugin reads `config/dq_rules.yaml`).
OwnersOf = Callable[[str, str], tuple[str, ...]]

_TOTALS_OF_RECENT_RUNS = ("WHERE dimension IS NULL AND run_id IN (SELECT run_id FROM mart.dq_result "
                          "GROUP BY run_id ORDER BY MAX(computed_at) DESC LIMIT :runs)")


def number(value: float | int | None, decimals: int = 0) -> str:
    """Danish: 1.234 / 12,5; empty for a missing value."""
    if value is None or _missing(value):
        return ""
    text = f"{float(value):,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def percent(share: float | None, decimals: int = 1) -> str:
    return "" if share is None or _missing(share) else f"{number(100 * share, decimals)} %"


def load_status(engine: sa.Engine, history_runs: int = HISTORY_RUNS, owners_of: OwnersOf | None = None) -> dict:
    """The page's facts: latest status per rule and source (breaches first, each with its owners
    and unit breakdown), its trend, source freshness."""
    try:
        results = read_table(engine, "mart.dq_result", _TOTALS_OF_RECENT_RUNS, {"runs": history_runs})
        rules = read_table(engine, "mart.dq_rule")
        freshness = read_table(engine, "mart.source_freshness")
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as error:  # no warehouse yet, or not reachable
        cause = error.__cause__ or error
        return {"error": f"{type(cause).__name__}: {str(cause).splitlines()[0][:300]}", "latest": None,
                "rules": [], "runs": [], "freshness": []}
    freshness = _with_figures(freshness, _figures_freshness(engine))
    if results.empty:
        return {"error": None, "latest": None, "rules": [], "runs": [], "freshness": _freshness(freshness)}
    results["computed_at"] = pd.to_datetime(results["computed_at"])
    runs = (results.groupby("run_id", as_index=False)["computed_at"].max().sort_values("computed_at"))
    order = {run: i for i, run in enumerate(runs["run_id"])}
    latest_run = runs["run_id"].iloc[-1]
    titles = dict(zip(rules["rule_id"], rules["title"])) if len(rules) else {}
    history = {key: group.assign(_order=group["run_id"].map(order)).sort_values("_order")
               for key, group in results.groupby(["rule_id", "source"])}
    latest = results[results["run_id"] == latest_run].sort_values(["rule_id", "source"])
    units = _unit_breakdown(engine, latest_run)
    listed = _listed_owners(rules)
    rows = []
    for row in latest.itertuples(index=False):
        trend = [int(v) for v in history[(row.rule_id, row.source)]["failing"]]
        previous = None if _missing(row.previous_failing) else int(row.previous_failing)
        rows.append({
            "rule_id": row.rule_id, "title": titles.get(row.rule_id, ""), "source": row.source,
            "severity": row.severity, "status": row.status or "", "failing": int(row.failing),
            "population": int(row.population), "rate": None if _missing(row.rate) else float(row.rate),
            "threshold_kind": row.threshold_kind, "threshold": float(row.threshold),
            "previous": previous, "change": None if previous is None else int(row.failing) - previous,
            "trend": trend, "sparkline": sparkline(trend),
            "owners": tuple(owners_of(row.rule_id, row.source) if owners_of else listed.get(row.rule_id, ())),
            "units": units.get((row.rule_id, row.source), []),
            "failures_url": "failures?" + urlencode({"run_id": latest_run, "rule": row.rule_id, "source": row.source})})
    rows.sort(key=lambda r: (r["status"] != "breach", r["severity"] != "error", r["rule_id"], r["source"]))
    per_run = []
    for run in runs.iloc[::-1].itertuples(index=False):
        totals = results[results["run_id"] == run.run_id]
        breached = totals[totals["status"] == "breach"]
        per_run.append({"run_id": run.run_id, "computed_at": run.computed_at,
                        "errors": int((breached["severity"] == "error").sum()),
                        "warnings": int((breached["severity"] == "warning").sum()), "checks": len(totals)})
    latest_breaches = [r for r in rows if r["status"] == "breach"]
    return {"error": None, "rules": rows, "runs": per_run, "freshness": _freshness(freshness),
            "latest": {"run_id": latest_run, "computed_at": runs["computed_at"].iloc[-1],
                       "run_date": latest["run_date"].iloc[0], "checks": len(rows),
                       "errors": sum(r["severity"] == "error" for r in latest_breaches),
                       "warnings": sum(r["severity"] == "warning" for r in latest_breaches)}}


def _unit_breakdown(engine: sa.Engine, run_id: str) -> dict[tuple[str, str], list[dict]]:
    """Per rule × source of `run_id`: its units, most failing first (units with no failing row last)."""
    frame = read_table(engine, "mart.dq_result", "WHERE run_id = :run AND dimension = 'unit'", {"run": run_id})
    out: dict[tuple[str, str], list[dict]] = {}
    for key, group in frame.groupby(["rule_id", "source"]):
        ordered = group.sort_values(["failing", "dimension_value"], ascending=[False, True])
        out[key] = [{"unit": str(r.dimension_value), "failing": int(r.failing), "population": int(r.population),
                     "rate": None if _missing(r.rate) else float(r.rate)} for r in ordered.itertuples(index=False)]
    return out


def _listed_owners(rules: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """`mart.dq_rule.owners` per rule: everyone the rule can mail (without the configuration at hand)."""
    if rules.empty:
        return {}
    return {r: tuple(o.strip() for o in str(owners or "").split(",") if o.strip())
            for r, owners in zip(rules["rule_id"], rules["owners"])}


def apply_filters(status: dict, status_filter: str | None = None, owner: str | None = None,
                  source: str | None = None) -> dict:
    """The page's facts with its rows narrowed to the filters, and the choices the form offers."""
    rows = status.get("rules", [])
    choices = {"statuses": list(STATUSES), "owners": sorted({o for r in rows for o in r["owners"]}),
               "sources": sorted({r["source"] for r in rows})}
    shown = [r for r in rows if (not status_filter or r["status"] == status_filter)
             and (not owner or owner in r["owners"]) and (not source or r["source"] == source)]
    return {**status, "rules": shown, "all_rules": len(rows), "choices": choices,
            "filters": {"status": status_filter or "", "owner": owner or "", "source": source or ""}}


def _missing(value) -> bool:  # noqa: ANN001 - a pandas scalar
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _figures_freshness(engine: sa.Engine) -> pd.DataFrame:
    """`mart.data_freshness` (empty where a warehouse from before the daytime refresh has none)."""
    try:
        return read_table(engine, "mart.data_freshness")
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError):
        return pd.DataFrame(columns=["source", "refreshed_at", "kind"])


def _with_figures(freshness: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    figures = figures[["source", "refreshed_at", "kind"]].rename(columns={"refreshed_at": "figures_at",
                                                                          "kind": "figures_kind"})
    return freshness.merge(figures, on="source", how="left")


def updated_at(moment, kind) -> str:  # noqa: ANN001 - pandas scalars
    """"Opdateret kl. 10.32 (dagtid)": when the published figures' extract of a source became
    current, Copenhagen time as stored, and whether the night or a daytime refresh read it."""
    if moment is None or _missing(moment):
        return ""
    when = pd.Timestamp(moment)
    return f"Opdateret kl. {when:%H.%M} ({'dagtid' if kind == 'daytime' else 'nat'}, {when:%d.%m.%Y})"


def _freshness(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for row in frame.sort_values("source").itertuples(index=False):
        rows.append({"source": row.source, "extract_date": _text(row.extract_date),
                     "figures_updated": updated_at(getattr(row, "figures_at", None), getattr(row, "figures_kind", None)),
                     "last_success_at": _text(row.last_success_at), "rows": None if _missing(row.rows) else int(row.rows),
                     "age_hours": None if _missing(row.age_hours) else float(row.age_hours),
                     "days_behind": None if _missing(row.days_behind) else int(row.days_behind),
                     "stale": bool(row.stale), "checked_at": _text(row.checked_at)})
    return rows


def _text(value) -> str:  # noqa: ANN001
    if _missing(value) or value is pd.NaT:
        return ""
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")
    return str(value)[:19]


def sparkline(values: list[int], width: int = 120, height: int = 24) -> str:
    """An inline SVG polyline of failing rows per run, oldest to newest (last point marked)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = [(round(i * step, 1), round(height - 2 - (v / top) * (height - 4), 1)) for i, v in enumerate(values)]
    if len(points) == 1:
        points = [(0, points[0][1]), (width, points[0][1])]
    path = " ".join(f"{x},{y}" for x, y in points)
    x, y = points[-1]
    label = html.escape(" → ".join(str(v) for v in values))
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{label}"><title>{label}</title><polyline fill="none" stroke="currentColor" stroke-width="1.5" '
            f'points="{path}"/><circle cx="{x}" cy="{y}" r="2.5" fill="currentColor"/></svg>')


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_ENV.globals.update(number=number, percent=percent)
_ENV.filters["number"] = number
_TEMPLATE = _ENV.from_string("""\
<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>sofli · datakvalitet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font-family:system-ui,sans-serif;margin:1.2rem;color:#1f2933;background:#fff}
 h1{font-size:1.4rem;margin:0 0 .3rem} h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
 table{border-collapse:collapse;font-size:.85rem;width:100%} th,td{padding:.3rem .5rem;border-bottom:1px solid #e4e7eb;
 text-align:left;vertical-align:middle} th{background:#f5f7fa} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
 td.trend{white-space:nowrap}
 .badge{display:inline-block;border-radius:.6rem;padding:.05rem .5rem;font-size:.75rem;font-weight:600}
 .breach.error,.stale{background:#fde2e1;color:#a61b1b} .breach.warning{background:#fff3c4;color:#8d5b00}
 .pass,.fresh{background:#e3f9e5;color:#0e6027} .summary{padding:.6rem .8rem;border-radius:.4rem;margin:.6rem 0}
 .summary.red{background:#fde2e1} .summary.green{background:#e3f9e5} .muted{color:#616e7c}
 .spark{color:#3e4c59;vertical-align:middle} tr.breach-error .spark{color:#a61b1b}
</style></head>
<body>
<h1>Datakvalitet</h1>
<p class="muted">Data-quality status per rule and source, its trend over the last {{ history_runs }} runs, and source
freshness, from the warehouse ({{ warehouse }}). Rules, thresholds and owners: <code>config/dq_rules.yaml</code>;
failing record ids: <code>mart.dq_failure</code>.</p>
{% if status.error %}
<div class="summary red" id="dq-error">The warehouse could not be read: {{ status.error }}</div>
{% elif not status.latest %}
<div class="summary" id="dq-empty">No data-quality results yet: the <code>data_quality</code> DAG has not run.</div>
{% else %}
{% set latest = status.latest %}
<form id="dq-filters" method="get" action="">
 <label>status <select name="status"><option value="">alle</option>{% for s in status.choices.statuses %}
 <option value="{{ s }}" {{ 'selected' if status.filters.status == s }}>{{ s }}</option>{% endfor %}</select></label>
 <label>ejer <select name="owner"><option value="">alle</option>{% for o in status.choices.owners %}
 <option value="{{ o }}" {{ 'selected' if status.filters.owner == o }}>{{ o }}</option>{% endfor %}</select></label>
 <label>kilde <select name="source"><option value="">alle</option>{% for s in status.choices.sources %}
 <option value="{{ s }}" {{ 'selected' if status.filters.source == s }}>{{ s }}</option>{% endfor %}</select></label>
 <button type="submit" id="dq-filter-apply">vis</button> <a href="?" id="dq-filter-clear">nulstil</a>
 <span class="muted" id="dq-shown">{{ status.rules|length }} af {{ status.all_rules }} rule × source checks vist</span>
</form>
<div class="summary {{ 'red' if latest.errors else 'green' }}" id="dq-summary">
 Latest run <b>{{ latest.run_id }}</b> ({{ latest.computed_at.strftime('%Y-%m-%d %H:%M') }}, extraction date
 {{ latest.run_date }}): <b>{{ latest.errors }}</b> error breach(es), <b>{{ latest.warnings }}</b> warning(s)
 in {{ latest.checks }} rule × source checks.</div>
<h2>Latest status per rule and source</h2>
<table id="dq-rules"><thead><tr><th>rule</th><th>title</th><th>source</th><th>severity</th><th>status</th>
<th>failing</th><th>population</th><th>rate</th><th>threshold</th><th>vs previous run</th><th>trend (failing per run)</th>
<th>owners</th><th>by unit</th><th>records</th>
</tr></thead><tbody>
{% for r in status.rules %}
<tr class="{{ 'breach-' ~ r.severity if r.status == 'breach' else '' }}" data-rule="{{ r.rule_id }}" data-source="{{ r.source }}" data-status="{{ r.status }}">
 <td>{{ r.rule_id }}</td><td>{{ r.title }}</td><td>{{ r.source }}</td><td>{{ r.severity }}</td>
 <td><span class="badge {{ r.status }} {{ r.severity }}">{{ r.status or '—' }}</span></td>
 <td class="num">{{ number(r.failing) }}</td><td class="num">{{ number(r.population) }}</td>
 <td class="num">{{ percent(r.rate, 2) }}</td>
 <td class="num">{{ percent(r.threshold, 2) if r.threshold_kind == 'rate' else '≤ ' ~ number(r.threshold) }}</td>
 <td class="num">{% if r.change is none %}new{% elif r.change > 0 %}▲ +{{ number(r.change) }}{% elif r.change < 0 %}▼ -{{ number(-r.change) }}{% else %}={% endif %}</td>
 <td class="trend">{{ r.sparkline|safe }} <span class="muted">{{ r.trend[-4:]|map('number')|join(' → ') }}</span></td>
 <td class="owners">{{ r.owners|join(', ') }}</td>
 <td class="units">{% if r.units %}<details><summary>{{ r.units|length }} enheder</summary><table class="unit-breakdown">
 {% for u in r.units %}<tr data-unit="{{ u.unit }}"><td>{{ u.unit }}</td><td class="num">{{ number(u.failing) }} af {{ number(u.population) }}</td>
 <td class="num">{{ percent(u.rate) }}</td></tr>{% endfor %}</table></details>{% endif %}</td>
 <td>{% if r.failing %}<a class="records" href="{{ r.failures_url }}">{{ number(r.failing) }} rækker</a>{% endif %}</td></tr>
{% endfor %}
</tbody></table>
<h2>Runs</h2>
<table id="dq-runs"><thead><tr><th>run</th><th>computed at</th><th>error breaches</th><th>warnings</th><th>checks</th></tr></thead><tbody>
{% for run in status.runs %}<tr><td>{{ run.run_id }}</td><td>{{ run.computed_at.strftime('%Y-%m-%d %H:%M') }}</td>
<td class="num">{{ run.errors }}</td><td class="num">{{ run.warnings }}</td><td class="num">{{ run.checks }}</td></tr>
{% endfor %}</tbody></table>
{% endif %}
{% if status.freshness %}
<h2>Source freshness</h2>
<table id="dq-freshness"><thead><tr><th>source</th><th>status</th><th>extract date</th><th>current since</th>
<th>age (hours)</th><th>days behind</th><th>rows</th><th>checked at</th><th>KPI figures</th></tr></thead><tbody>
{% for f in status.freshness %}<tr data-source="{{ f.source }}"><td>{{ f.source }}</td>
<td><span class="badge {{ 'stale' if f.stale else 'fresh' }}">{{ 'stale' if f.stale else 'fresh' }}</span></td>
<td>{{ f.extract_date }}</td><td>{{ f.last_success_at }}</td>
<td class="num">{{ number(f.age_hours, 1) }}</td>
<td class="num">{{ f.days_behind if f.days_behind is not none else '' }}</td>
<td class="num">{{ number(f.rows) }}</td><td>{{ f.checked_at }}</td>
<td class="figures">{{ f.figures_updated }}</td></tr>
{% endfor %}</tbody></table>
{% endif %}
</body></html>
""")


def render_status_page(status: dict, warehouse: str = "", history_runs: int = HISTORY_RUNS) -> str:
    if "choices" not in status:
        status = apply_filters(status)
    return _TEMPLATE.render(status=status, warehouse=warehouse, history_runs=history_runs)


def warehouse_label(url: str) -> str:
    """The warehouse without credentials, for the page's footnote."""
    parsed = sa.engine.make_url(url)
    return parsed.set(password=None, username=None).render_as_string(hide_password=True) if parsed.password or \
        parsed.username else str(parsed)


def status_page(url: str, history_runs: int = HISTORY_RUNS, *, status_filter: str | None = None,
                owner: str | None = None, source: str | None = None, owners_of: OwnersOf | None = None) -> str:
    """Read the warehouse at `url` and render the page, filtered (what the Airflow plugin serves)."""
    engine = make_engine(url)
    try:
        status = apply_filters(load_status(engine, history_runs, owners_of),
                               status_filter if status_filter in STATUSES else None, owner or None, source or None)
        return render_status_page(status, warehouse_label(url), history_runs)
    finally:
        engine.dispose()


def load_failures(engine: sa.Engine, run_id: str, rule_id: str, source: str,
                  limit: int = MAX_FAILURE_ROWS) -> tuple[pd.DataFrame, int]:
    """The failing records of one rule × source of a run (first `limit`, by record id) and how many there are."""
    where = "WHERE run_id = :run AND rule_id = :rule AND source = :source"
    frame = read_table(engine, "mart.dq_failure", where, {"run": run_id, "rule": rule_id, "source": source})
    frame = frame.sort_values(["source_table", "record_id"], kind="stable")
    return frame.head(limit), len(frame)


_FAILURES = _ENV.from_string("""\
<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>sofli · fejlende rækker {{ rule }} {{ source }}</title>
<style>body{font-family:system-ui,sans-serif;margin:1.2rem} table{border-collapse:collapse;font-size:.85rem}
th,td{padding:.25rem .5rem;border-bottom:1px solid #e4e7eb;text-align:left} .muted{color:#616e7c}</style></head>
<body><p><a href="./">← datakvalitet</a></p>
<h1>Fejlende rækker: {{ rule }} · {{ source }}</h1>
<p class="muted" id="dq-failures-count">Kørsel {{ run_id }}: {{ number(total) }} fejlende rækker{% if total > rows|length %},
de første {{ number(rows|length) }} vist (alle: <code>mart.dq_failure</code> og ejerens vedhæftede fil){% endif %}.
Kildens egne id'er; aldrig CPR.</p>
<table id="dq-failures"><thead><tr><th>kildetabel</th><th>record_id</th><th>sagsnummer</th><th>enhed</th><th>begrundelse</th></tr></thead>
<tbody>{% for r in rows %}<tr><td>{{ r.source_table }}</td><td>{{ r.record_id }}</td><td>{{ r.case_number or '' }}</td>
<td>{{ r.unit_code or '' }}</td><td>{{ r.detail or '' }}</td></tr>{% endfor %}</tbody></table>
</body></html>
""")


def failures_page(url: str, run_id: str, rule_id: str, source: str) -> str:
    """The failing records of one rule × source, as the page's row links them."""
    engine = make_engine(url)
    try:
        frame, total = load_failures(engine, run_id, rule_id, source)
    finally:
        engine.dispose()
    rows = [{k: (None if _missing(v) else mask_cpr(str(v), "(CPR-lignende værdi udeladt)"))
             for k, v in r.items()} for r in frame.to_dict("records")]
    return _FAILURES.render(run_id=run_id, rule=rule_id, source=source, rows=rows, total=total)
