-- Views the BI layer reads (SQLite; the PostgreSQL twin is views.postgresql.sql).
-- Each view is written once: a statement naming {schema} is created in every published
-- schema (mart, public) by etl.publish.warehouse.view_statements.
-- kpi_tile: a KPI's total for a period beside the same period one year earlier, as on the
-- seeds' tiles ("Sidste år (ÅTD)"). The twin is matched on the quarter one year earlier and
-- the same end day-of-month, so a running quarter (ending on the extraction date) meets the
-- same dates last year, not last year's whole quarter. 29 February meets 28 February.
DROP VIEW IF EXISTS {schema}.kpi_tile;
CREATE VIEW {schema}.kpi_tile AS
SELECT cur.kpi_id, cur.measure, cur.period_type, cur.period, cur.period_start, cur.period_end,
       cur.org_level, cur.org_key, cur.value, cur.numerator, cur.denominator, cur.unit,
       cur.provisional, cur.version,
       ly.period AS last_year_period, ly.period_end AS last_year_period_end,
       ly.value AS last_year_value, ly.numerator AS last_year_numerator,
       ly.denominator AS last_year_denominator
FROM kpi_value AS cur
LEFT JOIN kpi_value AS ly
  ON ly.kpi_id = cur.kpi_id AND ly.measure = cur.measure AND ly.period_type = cur.period_type
 AND ly.org_level = cur.org_level AND ly.org_key = cur.org_key AND ly.dimension IS NULL
 AND ly.version = cur.version
 AND ly.period = (CAST(substr(cur.period, 1, 4) AS INTEGER) - 1) || substr(cur.period, 5)
 AND (substr(ly.period_end, 6, 5) = substr(cur.period_end, 6, 5)
      OR (substr(cur.period_end, 6, 5) = '02-29' AND substr(ly.period_end, 6, 5) = '02-28'))
WHERE cur.dimension IS NULL;

-- kpi_value_current: what BI should show for every period. A closed quarter with a frozen
-- publication (kpi_version.is_current) shows that version's rows of its own periods; every
-- other period (the running, provisional quarter; a closed quarter not frozen yet) shows the
-- nightly version 0. `publication` says which: frozen | nightly | provisional.
DROP VIEW IF EXISTS {schema}.kpi_value_current;
CREATE VIEW {schema}.kpi_value_current AS
SELECT kv.*, 'frozen' AS publication
FROM kpi_value AS kv
JOIN kpi_version AS kver ON kver.version = kv.version AND kver.quarter = kv.period AND kver.is_current
UNION ALL
SELECT kv.*, CASE WHEN kv.provisional THEN 'provisional' ELSE 'nightly' END AS publication
FROM kpi_value AS kv
WHERE kv.version = 0
  AND NOT EXISTS (SELECT 1 FROM kpi_version AS kver WHERE kver.quarter = kv.period AND kver.is_current);
