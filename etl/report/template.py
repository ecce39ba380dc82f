"""The report's Jinja2 template (HTML; WeasyPrint prints it, one A4 landscape page per section)."""

TEMPLATE = """<!DOCTYPE html>
<html lang="da">
<head>
<meta charset="utf-8">
<title>Ledelsesinformation til Socialudvalget – {{ quarter }} (version {{ version }})</title>
<style>
@page { size: A4 landscape; margin: 11mm 12mm 12mm 12mm;
        @bottom-left { content: "SOF Ledelsesinformation · {{ quarter }} · version {{ version }}"; font-size: 7pt; color: #666; }
        @bottom-right { content: "Side " counter(page) " af " counter(pages); font-size: 7pt; color: #666; } }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 8pt; color: #1d1d1b; margin: 0; }
section { page-break-after: always; break-after: page; }
section:last-of-type { page-break-after: auto; break-after: auto; }
h1 { font-size: 17pt; margin: 0 0 2mm 0; color: #0b3c5d; }
h2 { font-size: 9.5pt; margin: 2mm 0 1mm 0; color: #0b3c5d; }
.sub { color: #555; margin-bottom: 3mm; }
.tiles { display: flex; gap: 3mm; margin-bottom: 3mm; }
.tile { flex: 1; border: 0.3mm solid #c9d6e2; border-top: 1.2mm solid #0b3c5d; padding: 2mm 3mm; background: #f5f8fb; }
.tile .name { font-weight: bold; font-size: 8.5pt; }
.tile .fig { font-size: 17pt; font-weight: bold; color: #0b3c5d; margin: 0.5mm 0; }
.tile .cap { color: #444; }
.tile .ly { margin-top: 1mm; color: #444; }
.tile .ly b, .tile .vs b { color: #1d1d1b; }
.tile .vs { color: #444; }
.cols { display: flex; gap: 5mm; }
.cols > div { flex: 1; }
figure { margin: 0; }
figcaption { font-size: 6.5pt; color: #555; margin-top: 1mm; }
table { border-collapse: collapse; width: 100%; font-size: 7.5pt; }
th, td { border-bottom: 0.2mm solid #ccc; padding: 0.8mm 1.5mm; text-align: left; }
td.num, th.num { text-align: right; }
table.rules { font-size: 6pt; line-height: 1.15; }
table.rules th, table.rules td { padding: 0.3mm 0.8mm; }
.guide p { margin: 0 0 1.2mm 0; font-size: 7pt; }
.note { font-size: 7pt; color: #555; margin-top: 2mm; }
.cover h1 { font-size: 24pt; margin-top: 25mm; }
.cover table { width: 60%; font-size: 9pt; margin-top: 8mm; }
.warn { color: #9b1c1c; font-weight: bold; }
.flag { color: #9b1c1c; font-weight: bold; }
.flag-note { color: #9b1c1c; font-size: 6.5pt; margin-top: 1mm; }
.tile .ytd, .tile .basis { color: #444; margin-top: 0.3mm; font-size: 7.5pt; }
.better { color: #2e7d32; font-weight: bold; }
.worse { color: #b3261e; font-weight: bold; }
</style>
</head>
<body>
<section class="cover">
  <h1>Ledelsesinformation til Socialudvalget</h1>
  <div class="sub" style="font-size: 13pt">{{ quarter }} · opgjort pr. {{ quarter_end }}</div>
  <table>
    <tr><th>Version</th><td>{{ version }}{% if not is_current %} <span class="warn">(ikke gældende: erstattet af en senere version)</span>{% endif %}</td></tr>
    <tr><th>Låst</th><td>{{ frozen_at }} (dansk tid) af {{ signer }}</td></tr>
    <tr><th>Begrundelse</th><td>{{ meta.reason }}</td></tr>
    <tr><th>Grundlag</th><td>Offentliggørelsesversionen (diskretioneret) af nøgletallene, kørsel {{ meta.source_run_id }}</td></tr>
  </table>
  <h2 style="margin-top: 8mm">Indhold</h2>
  <ol>{% for p in pages %}<li>{{ p.title }}</li>{% endfor %}</ol>
  <p class="note">{{ suppression_note }}</p>
  <p class="note">Tal er for Socialforvaltningen i alt. "Sidste år (ÅTD)" er samme periode sidste år: 1. januar til samme dag. Nøgletallenes definitioner står i nøgletalskataloget.</p>
</section>
{% for p in pages %}
<section>
  <h1>{{ p.title }}</h1>
  <div class="sub">{{ quarter }} · opgjort pr. {{ quarter_end }} · version {{ version }}</div>
  <div class="tiles">
  {% for t in p.tiles %}
    <div class="tile">
      <div class="name">{{ t.title }}{% if t.flag %} <span class="flag" title="{{ t.flag }}">†</span>{% endif %}</div>
      <div class="fig">{{ t.figure }}</div>
      <div class="cap">{{ t.caption }}</div>
      {% for label, fig in t.beside %}<div class="vs">{{ label }}: <b>{{ fig }}</b></div>{% endfor %}
      {% if t.last_year_label %}<div class="ly">{{ t.last_year_label }}: <b>{{ t.last_year }}</b>{% if t.direction == "better" %} <span class="better">▲ bedre</span>{% elif t.direction == "worse" %} <span class="worse">▼ dårligere</span>{% endif %}</div>{% endif %}
      {% if t.quarter_figure %}<div class="ytd">Kvartalet: <b>{{ t.quarter_figure }}</b> · sidste år: <b>{{ t.quarter_last_year }}</b></div>{% endif %}
      {% if t.ytd %}<div class="ytd">År til dato (ÅTD): <b>{{ t.ytd }}</b> · sidste år (ÅTD): <b>{{ t.ytd_last_year }}</b></div>{% endif %}
      {% if t.basis %}<div class="basis">{{ t.basis }}</div>{% endif %}
    </div>
  {% endfor %}
  </div>
  <div class="cols">
    <div>
      {% if p.chart %}
      <h2>{{ p.chart.title }}</h2>
      <figure>{{ p.chart.svg | safe }}<figcaption>{{ p.chart.alt }}</figcaption></figure>
      {% endif %}
      {% for c in p.charts %}
      <h2>{{ c.title }}</h2>
      <figure>{{ c.svg | safe }}<figcaption>{{ c.alt }}</figcaption></figure>
      {% endfor %}
      {% if p.extra %}
      <h2>Flere nøgletal</h2>
      <table><tr><th>Nøgletal</th><th>Enhed</th><th class="num">Kvartal</th><th class="num">Sidste år</th><th class="num">ÅTD</th><th>Grundlag</th></tr>
      {% for e in p.extra %}<tr><td>{{ e.title }}{% if e.flag %} <span class="flag">†</span>{% endif %}</td><td>{{ e.caption }}</td><td class="num">{{ e.figure }}</td><td class="num">{{ e.last_year }}</td><td class="num">{{ e.ytd }}</td><td>{{ e.basis }}</td></tr>{% endfor %}
      </table>
      {% endif %}
    </div>
    <div class="guide">
      {% if p.guides %}<h2>Læsevejledning KPI'er</h2>{% endif %}
      {% for g in p.guides %}<p><b>{{ g.title }}</b> ({{ g.kpi_id }}): {{ g.text }}</p>{% endfor %}
      {% if p.chart_guide %}<h2>Læsevejledning graf</h2><p>{{ p.chart_guide }}</p>{% endif %}
      {% if p.note %}<p class="note">{{ p.note }}</p>{% endif %}
      {% for n in p.flag_notes %}<p class="note flag-note">{{ n }}</p>{% endfor %}
      {% if p.table %}
      <h2>Reglerne for datakvalitet</h2>
      <table class="rules"><tr><th>Regel</th><th>Titel</th><th class="num">Fejl</th><th class="num">Af</th><th class="num">Andel</th><th>Alvor</th><th>Status</th><th>Ejer</th></tr>
      {% for r in p.table %}<tr><td>{{ r.rule_id }}</td><td>{{ r.title }}</td><td class="num">{{ r.failing }}</td><td class="num">{{ r.population }}</td><td class="num">{{ r.rate }}</td><td>{{ r.severity }}</td><td>{{ r.status }}</td><td>{{ r.owners }}</td></tr>{% endfor %}
      </table>
      {% endif %}
      <p class="note">{{ suppression_note }}</p>
    </div>
  </div>
</section>
{% if p.appendix %}
<section>
  <h1>Bilag: Driftens datakontroller</h1>
  <div class="sub">{{ quarter }} · kontroller af selve dataleverancen og beregningen; til driften, ikke til udvalget</div>
  <table class="rules"><tr><th>Regel</th><th>Titel</th><th class="num">Fejl</th><th class="num">Af</th><th class="num">Andel</th><th>Alvor</th><th>Status</th><th>Ejer</th></tr>
  {% for r in p.appendix %}<tr><td>{{ r.rule_id }}</td><td>{{ r.title }}</td><td class="num">{{ r.failing }}</td><td class="num">{{ r.population }}</td><td class="num">{{ r.rate }}</td><td>{{ r.severity }}</td><td>{{ r.status }}</td><td>{{ r.owners }}</td></tr>{% endfor %}
  </table>
  <p class="note">{{ suppression_note }}</p>
</section>
{% endif %}
{% endfor %}
</body>
</html>
"""
