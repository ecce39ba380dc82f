-- Views the BI layer reads (PostgreSQL; the SQLite twin is views.sqlite.sql, same columns).
-- Each view is written once: a statement naming {schema} is created in every published
-- schema (mart, public) by etl.publish.warehouse.view_statements.
CREATE OR REPLACE VIEW {schema}.kpi_tile AS
SELECT cur.kpi_id, cur.measure, cur.period_type, cur.period, cur.period_start, cur.period_end,
       cur.org_level, cur.org_key, cur.value, cur.numerator, cur.denominator, cur.unit,
       cur.provisional, cur.version,
       ly.period AS last_year_period, ly.period_end AS last_year_period_end,
       ly.value AS last_year_value, ly.numerator AS last_year_numerator,
       ly.denominator AS last_year_denominator
FROM {schema}.kpi_value AS cur
LEFT JOIN {schema}.kpi_value AS ly
  ON ly.kpi_id = cur.kpi_id AND ly.measure = cur.measure AND ly.period_type = cur.period_type
 AND ly.org_level = cur.org_level AND ly.org_key = cur.org_key AND ly.dimension IS NULL
 AND ly.version = cur.version
 AND ly.period = (CAST(substr(cur.period, 1, 4) AS INTEGER) - 1) || substr(cur.period, 5)
 AND (to_char(ly.period_end, 'MM-DD') = to_char(cur.period_end, 'MM-DD')
      OR (to_char(cur.period_end, 'MM-DD') = '02-29' AND to_char(ly.period_end, 'MM-DD') = '02-28'))
WHERE cur.dimension IS NULL;

-- kpi_value_current: what BI should show for every period. A closed quarter with a frozen
-- publication (kpi_version.is_current) shows that version's rows of its own periods; every
-- other period (the running, provisional quarter; a closed quarter not frozen yet) shows the
-- nightly version 0. `publication` says which: frozen | nightly | provisional.
CREATE OR REPLACE VIEW {schema}.kpi_value_current AS
SELECT kv.*, 'frozen' AS publication
FROM {schema}.kpi_value AS kv
JOIN {schema}.kpi_version AS kver ON kver.version = kv.version AND kver.quarter = kv.period AND kver.is_current
UNION ALL
SELECT kv.*, CASE WHEN kv.provisional THEN 'provisional' ELSE 'nightly' END AS publication
FROM {schema}.kpi_value AS kv
WHERE kv.version = 0
  AND NOT EXISTS (SELECT 1 FROM {schema}.kpi_version AS kver WHERE kver.quarter = kv.period AND kver.is_current);
