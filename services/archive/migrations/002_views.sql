-- Reporting views and functions, all in store-local time (stores.timezone, AT TIME ZONE in SQL).
--
-- Definitions (also in services/archive/README.md):
--   visitors     = ZoneStats.entries summed over the store's entrance-kind zones. Unknown windows
--                  (entries absent) add nothing and an hour with no known entrance window has
--                  visitors NULL, never 0.
--   transactions = till baskets (table transactions) whose timestamp falls in the hour/day.
--   conversion   = transactions / visitors, over hours whose visitors are known and > 0; NULL otherwise.
--   queue wait   = mean of the windows' measured wait (wait_measured_s) and, separately, of the
--                  Little's-law estimate (wait_estimate_s).
-- Hours are store-local hours: hour_start is the instant the local hour starts, so a DST
-- fall-back day has two rows with local_hour 01:00 (25 hours) and a spring-forward day 23.
-- Period functions take store-local dates, [p_from, p_to).

-- Hourly visits/occupancy/queue waits per store and zone.
CREATE VIEW zone_hourly_local AS
SELECT h.store_id,
       h.zone_id,
       h.zone_kind,
       h.hour_start,
       h.local_hour,
       h.local_hour::date                                               AS local_date,
       extract(isodow FROM h.local_hour)::int                           AS weekday,
       extract(hour FROM h.local_hour)::int                             AS hour_of_day,
       h.windows,
       h.windows_known,
       h.coverage_sum / h.windows                                       AS coverage,
       h.entries,
       h.exits,
       h.occupancy_sum / nullif(h.occupancy_n, 0)                       AS occupancy_avg,
       h.occupancy_max,
       h.queue_length_sum / nullif(h.queue_length_n, 0)                 AS queue_length_avg,
       h.wait_measured_sum / nullif(h.wait_measured_n, 0)               AS wait_measured_avg_s,
       h.wait_estimate_sum / nullif(h.wait_estimate_n, 0)               AS wait_estimate_avg_s,
       h.occupancy_sum, h.occupancy_n, h.queue_length_sum, h.queue_length_n,
       h.wait_measured_sum, h.wait_measured_n, h.wait_estimate_sum, h.wait_estimate_n
FROM zone_hourly h
JOIN stores s ON s.id = h.store_id;  -- configured stores only (others have UTC hours until configured)

-- Daily visits/occupancy/queue waits per store and zone (store-local calendar days).
CREATE VIEW zone_daily_local AS
SELECT store_id,
       zone_id,
       max(zone_kind)                                        AS zone_kind,
       local_date,
       extract(isodow FROM local_date)::int                  AS weekday,
       count(*)::int                                         AS hours,
       sum(windows)::int                                     AS windows,
       sum(windows_known)::int                               AS windows_known,
       sum(entries)                                          AS entries,
       sum(exits)                                            AS exits,
       sum(occupancy_sum) / nullif(sum(occupancy_n), 0)      AS occupancy_avg,
       max(occupancy_max)                                    AS occupancy_max,
       sum(queue_length_sum) / nullif(sum(queue_length_n), 0) AS queue_length_avg,
       sum(wait_measured_sum) / nullif(sum(wait_measured_n), 0) AS wait_measured_avg_s,
       sum(wait_estimate_sum) / nullif(sum(wait_estimate_n), 0) AS wait_estimate_avg_s
FROM zone_hourly_local
GROUP BY store_id, zone_id, local_date;

-- Per store and local hour: visitors, queue waits, till transactions and the conversion rate.
CREATE VIEW store_hourly AS
WITH visits AS (
    SELECT store_id,
           hour_start,
           sum(entries) FILTER (WHERE zone_kind = 'entrance')                 AS visitors,
           sum(wait_measured_sum) / nullif(sum(wait_measured_n), 0)           AS wait_measured_avg_s,
           sum(wait_estimate_sum) / nullif(sum(wait_estimate_n), 0)           AS wait_estimate_avg_s,
           sum(queue_length_sum) / nullif(sum(queue_length_n), 0)             AS queue_length_avg
    FROM zone_hourly
    GROUP BY store_id, hour_start
), till AS (
    SELECT t.store_id,
           date_trunc('hour', t.ts, s.timezone) AS hour_start,
           count(*)                             AS transactions,
           sum(t.amount)                        AS revenue
    FROM transactions t
    JOIN stores s ON s.id = t.store_id
    GROUP BY t.store_id, date_trunc('hour', t.ts, s.timezone)
)
SELECT s.id                                                                   AS store_id,
       s.region,
       x.hour_start,
       (x.hour_start AT TIME ZONE s.timezone)                                 AS local_hour,
       (x.hour_start AT TIME ZONE s.timezone)::date                           AS local_date,
       extract(isodow FROM x.hour_start AT TIME ZONE s.timezone)::int        AS weekday,
       extract(hour FROM x.hour_start AT TIME ZONE s.timezone)::int          AS hour_of_day,
       x.visitors,
       x.transactions,
       x.revenue,
       x.transactions::double precision / nullif(x.visitors, 0)               AS conversion_rate,
       x.queue_length_avg,
       x.wait_measured_avg_s,
       x.wait_estimate_avg_s
FROM (
    SELECT coalesce(v.store_id, t.store_id)        AS store_id,
           coalesce(v.hour_start, t.hour_start)    AS hour_start,
           v.visitors,
           coalesce(t.transactions, 0)             AS transactions,
           coalesce(t.revenue, 0)                  AS revenue,
           v.queue_length_avg,
           v.wait_measured_avg_s,
           v.wait_estimate_avg_s
    FROM visits v
    FULL JOIN till t ON t.store_id = v.store_id AND t.hour_start = v.hour_start
) x
JOIN stores s ON s.id = x.store_id;

-- Per store and local day. Conversion counts only transactions of hours whose visitors are known.
CREATE VIEW store_daily AS
SELECT store_id,
       region,
       local_date,
       extract(isodow FROM local_date)::int                                      AS weekday,
       sum(visitors)                                                             AS visitors,
       sum(transactions)                                                         AS transactions,
       sum(revenue)                                                              AS revenue,
       -- Transactions of hours whose visitors are known: the numerator of the conversion rate.
       coalesce(sum(transactions) FILTER (WHERE visitors IS NOT NULL), 0)        AS transactions_converted,
       (sum(transactions) FILTER (WHERE visitors IS NOT NULL))::double precision
           / nullif(sum(visitors), 0)                                            AS conversion_rate,
       avg(wait_measured_avg_s)                                                  AS wait_measured_avg_s,
       avg(wait_estimate_avg_s)                                                  AS wait_estimate_avg_s
FROM store_hourly
GROUP BY store_id, region, local_date;

-- Weekday x hour pattern per store and zone (for staffing): mean per local hour over [p_from, p_to).
-- A year of hours for 1,000 zones is 8.8 M rollup rows, so these two are PL/pgSQL (RETURN QUERY may
-- run in parallel; a SQL-language function body may not), filter on local_hour (a column with
-- statistics, not a cast) and aggregate in memory (work_mem) rather than by an external sort:
-- 1.9 s -> 0.6 s for a year of 100 zones (bench/RESULTS-archive.md).
CREATE FUNCTION zone_weekday_hour(p_from date, p_to date)
RETURNS TABLE (store_id text, zone_id text, weekday int, hour_of_day int, hours int,
               entries_avg double precision, occupancy_avg double precision,
               queue_length_avg double precision, wait_measured_avg_s double precision)
LANGUAGE plpgsql STABLE
SET work_mem = '64MB'
SET search_path FROM CURRENT
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT store_id, zone_id, weekday, hour_of_day, count(*)::int,
           avg(entries)::double precision,
           sum(occupancy_sum) / nullif(sum(occupancy_n), 0),
           sum(queue_length_sum) / nullif(sum(queue_length_n), 0),
           sum(wait_measured_sum) / nullif(sum(wait_measured_n), 0)
    FROM zone_hourly_local
    WHERE local_hour >= p_from::timestamp AND local_hour < p_to::timestamp
    GROUP BY store_id, zone_id, weekday, hour_of_day;
END
$$;

-- Weekday x hour pattern per store: mean visitors, transactions and conversion per local hour.
CREATE FUNCTION store_weekday_hour(p_from date, p_to date)
RETURNS TABLE (store_id text, weekday int, hour_of_day int, hours int,
               visitors_avg double precision, transactions_avg double precision,
               conversion_rate double precision, wait_measured_avg_s double precision)
LANGUAGE plpgsql STABLE
SET work_mem = '64MB'
SET search_path FROM CURRENT
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT store_id, weekday, hour_of_day, count(*)::int,
           avg(visitors)::double precision,
           avg(transactions)::double precision,
           (sum(transactions) FILTER (WHERE visitors IS NOT NULL))::double precision / nullif(sum(visitors), 0),
           avg(wait_measured_avg_s)
    FROM store_hourly
    WHERE local_hour >= p_from::timestamp AND local_hour < p_to::timestamp
    GROUP BY store_id, weekday, hour_of_day;
END
$$;

-- Period-over-period per store (e.g. this December vs last): totals of two local-date ranges.
CREATE FUNCTION compare_periods(p_from date, p_to date, p_prev_from date, p_prev_to date)
RETURNS TABLE (store_id text, region text,
               visitors numeric, visitors_prev numeric, visitors_change double precision,
               transactions numeric, transactions_prev numeric,
               conversion_rate double precision, conversion_rate_prev double precision)
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH cur AS (
        SELECT store_id, region, sum(visitors) AS visitors, sum(transactions) AS transactions,
               sum(transactions_converted)::double precision / nullif(sum(visitors), 0) AS conversion_rate
        FROM store_daily WHERE local_date >= p_from AND local_date < p_to
        GROUP BY store_id, region
    ), prev AS (
        SELECT store_id, region, sum(visitors) AS visitors, sum(transactions) AS transactions,
               sum(transactions_converted)::double precision / nullif(sum(visitors), 0) AS conversion_rate
        FROM store_daily WHERE local_date >= p_prev_from AND local_date < p_prev_to
        GROUP BY store_id, region
    )
    SELECT coalesce(c.store_id, p.store_id), coalesce(c.region, p.region),
           c.visitors, p.visitors,
           (c.visitors - p.visitors)::double precision / nullif(p.visitors, 0),
           c.transactions, p.transactions,
           c.conversion_rate, p.conversion_rate
    FROM cur c FULL JOIN prev p ON p.store_id = c.store_id;
END;

-- Stores of a region ranked by visitors and by conversion over [p_from, p_to) (store-local dates).
CREATE FUNCTION store_ranking(p_region text, p_from date, p_to date)
RETURNS TABLE (store_id text, visitors numeric, transactions numeric, conversion_rate double precision,
               wait_measured_avg_s double precision, visitors_rank bigint, conversion_rank bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH totals AS (
        SELECT store_id, sum(visitors) AS visitors, sum(transactions) AS transactions,
               sum(transactions_converted)::double precision / nullif(sum(visitors), 0) AS conversion_rate,
               avg(wait_measured_avg_s) AS wait_measured_avg_s
        FROM store_daily
        WHERE region = p_region AND local_date >= p_from AND local_date < p_to
        GROUP BY store_id
    )
    SELECT store_id, visitors, transactions, conversion_rate, wait_measured_avg_s,
           rank() OVER (ORDER BY visitors DESC NULLS LAST),
           rank() OVER (ORDER BY conversion_rate DESC NULLS LAST)
    FROM totals;
END;
