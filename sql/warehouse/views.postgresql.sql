-- Views the BI layer reads (PostgreSQL; the SQLite twin is views.sqlite.sql, same columns).
-- Each view is written once: a statement naming {schema} is created in every published
-- schema (mart, public) by etl.publish.warehouse.view_statements; {kv_columns} is every
-- kpi_value column but value_status.
-- A view whose columns change is dropped first (CREATE OR REPLACE cannot rename columns).
-- kpi_tile: a KPI's total for a period beside the same period one year earlier, as on the
-- seeds' tiles ("Sidste år (ÅTD)"). The twin is the same period one year earlier on identical
-- dates (= dim_period.last_year_period_key): for a running quarter the same days last year (its
-- row has comparison last_year_twin), for a whole quarter last year's. 29 February meets 28 February.
-- Only rows with comparison = 'current' are tiles, so (kpi_id, measure, period_key, org_id,
-- version) is unique. value_status: shown | suppressed | not_available | stale (shown, but the
-- KPI run is flagged in dq_kpi_flag: a blocking data-quality rule breached or a source is stale).
DROP VIEW IF EXISTS {schema}.kpi_tile;
CREATE VIEW {schema}.kpi_tile AS
SELECT cur.kpi_id, cur.measure, cur.period_type, cur.period, cur.period_start, cur.period_end,
       cur.org_level, cur.org_key, cur.value, cur.numerator, cur.denominator, cur.unit,
       cur.provisional, cur.version,
       ly.period AS last_year_period, ly.period_end AS last_year_period_end,
       ly.value AS last_year_value, ly.numerator AS last_year_numerator,
       ly.denominator AS last_year_denominator,
       cur.period_key, cur.org_id, ly.period_key AS last_year_period_key,
       CASE WHEN cur.value_status = 'shown' AND EXISTS (
              SELECT 1 FROM {schema}.dq_kpi_flag AS f WHERE f.kpi_id = cur.kpi_id AND f.kpi_run_id = cur.run_id)
            THEN 'stale' ELSE cur.value_status END AS value_status,
       ly.value_status AS last_year_value_status
FROM {schema}.kpi_value AS cur
LEFT JOIN {schema}.kpi_value AS ly
  ON ly.kpi_id = cur.kpi_id AND ly.measure = cur.measure AND ly.period_type = cur.period_type
 AND ly.org_id = cur.org_id AND ly.dimension IS NULL AND ly.version = cur.version
 AND ly.period = (CAST(substr(cur.period, 1, 4) AS INTEGER) - 1) || substr(cur.period, 5)
 AND (to_char(ly.period_end, 'MM-DD') = to_char(cur.period_end, 'MM-DD')
      OR (to_char(cur.period_end, 'MM-DD') = '02-29' AND to_char(ly.period_end, 'MM-DD') = '02-28'))
WHERE cur.dimension IS NULL AND cur.comparison = 'current';

-- kpi_value_current: what BI should show for every period. A closed quarter with a frozen
-- publication (kpi_version.is_current) shows that version's rows of its own periods; every
-- other period (the running, provisional quarter; a closed quarter not frozen yet) shows the
-- nightly version 0. `publication` says which: frozen | nightly | provisional. Last-year twins
-- are comparisons (kpi_tile), not periods: left out, so the key (kpi_id, measure, period_key,
-- org_id, dimension, dimension_value) is unique and so is (..., period, period_type).
DROP VIEW IF EXISTS {schema}.kpi_value_current;
CREATE VIEW {schema}.kpi_value_current AS
SELECT {kv_columns}, 'frozen' AS publication,
       CASE WHEN kv.value_status = 'shown' AND EXISTS (
              SELECT 1 FROM {schema}.dq_kpi_flag AS f WHERE f.kpi_id = kv.kpi_id AND f.kpi_run_id = kv.run_id)
            THEN 'stale' ELSE kv.value_status END AS value_status
FROM {schema}.kpi_value AS kv
JOIN {schema}.kpi_version AS kver ON kver.version = kv.version AND kver.quarter = kv.period AND kver.is_current
WHERE kv.comparison = 'current'
UNION ALL
SELECT {kv_columns}, CASE WHEN kv.provisional THEN 'provisional' ELSE 'nightly' END AS publication,
       CASE WHEN kv.value_status = 'shown' AND EXISTS (
              SELECT 1 FROM {schema}.dq_kpi_flag AS f WHERE f.kpi_id = kv.kpi_id AND f.kpi_run_id = kv.run_id)
            THEN 'stale' ELSE kv.value_status END AS value_status
FROM {schema}.kpi_value AS kv
WHERE kv.version = 0 AND kv.comparison = 'current'
  AND NOT EXISTS (SELECT 1 FROM {schema}.kpi_version AS kver WHERE kver.quarter = kv.period AND kver.is_current);
