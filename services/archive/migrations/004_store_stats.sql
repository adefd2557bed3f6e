-- The store as a whole (StoreStats, from the store's entrance lines): windows, an hourly rollup in
-- store-local hours, daily and weekday x hour views, and conversion from the store footfall.
--
-- Definitions (also in services/archive/README.md):
--   footfall   = StoreStats.entries summed over the hour's known windows (status <> 'unknown');
--                NULL for an hour with no known window, never 0.
--   occupancy  = persons inside at a window end; hourly mean and max over the known windows.
--   visitors   = (store_hourly) the store footfall for stores with entrances in the config
--                (stores.entrances), else, as before, entries of the entrance-kind zones.

-- Set from the region config by the archive (schema.sync_stores).
ALTER TABLE stores ADD COLUMN entrances boolean NOT NULL DEFAULT false;

-- One row per store per closed window, partitioned by month like zone_stats.
CREATE TABLE store_stats (
    store_id      text        NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    local_date    date        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('ok', 'partial', 'unknown')),
    coverage      real        NOT NULL,
    open          boolean     NOT NULL,
    entries       integer     NOT NULL,
    exits         integer     NOT NULL,
    occupancy     integer     NOT NULL,
    footfall_day  integer     NOT NULL,
    clamped       integer     NOT NULL DEFAULT 0,
    reset         text        NOT NULL DEFAULT '',
    drift         integer     NOT NULL DEFAULT 0,
    late_rows     integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, window_start)
) PARTITION BY RANGE (window_start);

-- Hourly rollup of store_stats per store-local hour (rebuilt for every hour a batch touches).
CREATE TABLE store_traffic_hourly (
    store_id        text        NOT NULL,
    hour_start      timestamptz NOT NULL,
    local_hour      timestamp   NOT NULL,
    windows         integer     NOT NULL,
    windows_known   integer     NOT NULL,
    footfall        bigint,
    exits           bigint,
    occupancy_sum   double precision,
    occupancy_n     integer     NOT NULL,
    occupancy_max   integer,
    clamped         bigint      NOT NULL,
    drift           bigint      NOT NULL,
    PRIMARY KEY (store_id, hour_start)
);
CREATE INDEX store_traffic_hourly_by_local_hour ON store_traffic_hourly (local_hour);

CREATE VIEW store_traffic_hourly_local AS
SELECT h.store_id,
       h.hour_start,
       h.local_hour,
       h.local_hour::date                                   AS local_date,
       extract(isodow FROM h.local_hour)::int               AS weekday,
       extract(hour FROM h.local_hour)::int                 AS hour_of_day,
       h.windows,
       h.windows_known,
       h.footfall,
       h.exits,
       h.occupancy_sum / nullif(h.occupancy_n, 0)           AS occupancy_avg,
       h.occupancy_max,
       h.clamped,
       h.drift,
       h.occupancy_sum, h.occupancy_n
FROM store_traffic_hourly h
JOIN stores s ON s.id = h.store_id;

-- Per store and store-local day.
CREATE VIEW store_traffic_daily AS
SELECT store_id,
       local_date,
       extract(isodow FROM local_date)::int                 AS weekday,
       count(*)::int                                        AS hours,
       sum(windows)::int                                    AS windows,
       sum(windows_known)::int                              AS windows_known,
       sum(footfall)                                        AS footfall,
       sum(exits)                                           AS exits,
       sum(occupancy_sum) / nullif(sum(occupancy_n), 0)     AS occupancy_avg,
       max(occupancy_max)                                   AS occupancy_max,
       sum(clamped)                                         AS clamped,
       sum(drift)                                           AS drift
FROM store_traffic_hourly_local
GROUP BY store_id, local_date;

-- Weekday x hour pattern of footfall and occupancy over [p_from, p_to) (store-local dates).
CREATE FUNCTION store_traffic_weekday_hour(p_from date, p_to date)
RETURNS TABLE (store_id text, weekday int, hour_of_day int, hours int,
               footfall_avg double precision, occupancy_avg double precision, occupancy_max int)
LANGUAGE plpgsql STABLE
SET work_mem = '64MB'
SET search_path FROM CURRENT
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT store_id, weekday, hour_of_day, count(*)::int,
           avg(footfall)::double precision,
           sum(occupancy_sum) / nullif(sum(occupancy_n), 0),
           max(occupancy_max)
    FROM store_traffic_hourly_local
    WHERE local_hour >= p_from::timestamp AND local_hour < p_to::timestamp
    GROUP BY store_id, weekday, hour_of_day;
END
$$;

-- Visitors (and so the conversion rate) from the store footfall where the store has entrances.
-- Same columns as 002's store_hourly, footfall appended (views and functions on it stay valid).
CREATE OR REPLACE VIEW store_hourly AS
WITH zone_visits AS (
    SELECT store_id,
           hour_start,
           sum(entries) FILTER (WHERE zone_kind = 'entrance')                 AS visitors,
           sum(wait_measured_sum) / nullif(sum(wait_measured_n), 0)           AS wait_measured_avg_s,
           sum(wait_estimate_sum) / nullif(sum(wait_estimate_n), 0)           AS wait_estimate_avg_s,
           sum(queue_length_sum) / nullif(sum(queue_length_n), 0)             AS queue_length_avg
    FROM zone_hourly
    GROUP BY store_id, hour_start
), visits AS (
    SELECT coalesce(z.store_id, f.store_id)                                    AS store_id,
           coalesce(z.hour_start, f.hour_start)                                AS hour_start,
           CASE WHEN st.entrances THEN f.footfall ELSE z.visitors END           AS visitors,
           f.footfall,
           z.wait_measured_avg_s,
           z.wait_estimate_avg_s,
           z.queue_length_avg
    FROM zone_visits z
    FULL JOIN store_traffic_hourly f ON f.store_id = z.store_id AND f.hour_start = z.hour_start
    LEFT JOIN stores st ON st.id = coalesce(z.store_id, f.store_id)
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
       x.wait_estimate_avg_s,
       x.footfall
FROM (
    SELECT coalesce(v.store_id, t.store_id)        AS store_id,
           coalesce(v.hour_start, t.hour_start)    AS hour_start,
           v.visitors,
           coalesce(t.transactions, 0)             AS transactions,
           coalesce(t.revenue, 0)                  AS revenue,
           v.queue_length_avg,
           v.wait_measured_avg_s,
           v.wait_estimate_avg_s,
           v.footfall
    FROM visits v
    FULL JOIN till t ON t.store_id = v.store_id AND t.hour_start = v.hour_start
) x
JOIN stores s ON s.id = x.store_id;
