-- Views the BI layer reads (PostgreSQL; the SQLite twin is views.sqlite.sql, same columns).
CREATE OR REPLACE VIEW mart.kpi_tile AS
SELECT cur.kpi_id, cur.measure, cur.period_type, cur.period, cur.period_start, cur.period_end,
       cur.org_level, cur.org_key, cur.value, cur.numerator, cur.denominator, cur.unit,
       cur.provisional, cur.version,
       ly.period AS last_year_period, ly.period_end AS last_year_period_end,
       ly.value AS last_year_value, ly.numerator AS last_year_numerator,
       ly.denominator AS last_year_denominator
FROM mart.kpi_value AS cur
LEFT JOIN mart.kpi_value AS ly
  ON ly.kpi_id = cur.kpi_id AND ly.measure = cur.measure AND ly.period_type = cur.period_type
 AND ly.org_level = cur.org_level AND ly.org_key = cur.org_key AND ly.dimension IS NULL
 AND ly.version = cur.version
 AND ly.period = (CAST(substr(cur.period, 1, 4) AS INTEGER) - 1) || substr(cur.period, 5)
 AND (to_char(ly.period_end, 'MM-DD') = to_char(cur.period_end, 'MM-DD')
      OR (to_char(cur.period_end, 'MM-DD') = '02-29' AND to_char(ly.period_end, 'MM-DD') = '02-28'))
WHERE cur.dimension IS NULL;

CREATE OR REPLACE VIEW public.kpi_tile AS
SELECT cur.kpi_id, cur.measure, cur.period_type, cur.period, cur.period_start, cur.period_end,
       cur.org_level, cur.org_key, cur.value, cur.numerator, cur.denominator, cur.unit,
       cur.provisional, cur.version,
       ly.period AS last_year_period, ly.period_end AS last_year_period_end,
       ly.value AS last_year_value, ly.numerator AS last_year_numerator,
       ly.denominator AS last_year_denominator
FROM public.kpi_value AS cur
LEFT JOIN public.kpi_value AS ly
  ON ly.kpi_id = cur.kpi_id AND ly.measure = cur.measure AND ly.period_type = cur.period_type
 AND ly.org_level = cur.org_level AND ly.org_key = cur.org_key AND ly.dimension IS NULL
 AND ly.version = cur.version
 AND ly.period = (CAST(substr(cur.period, 1, 4) AS INTEGER) - 1) || substr(cur.period, 5)
 AND (to_char(ly.period_end, 'MM-DD') = to_char(cur.period_end, 'MM-DD')
      OR (to_char(cur.period_end, 'MM-DD') = '02-29' AND to_char(ly.period_end, 'MM-DD') = '02-28'))
WHERE cur.dimension IS NULL;
