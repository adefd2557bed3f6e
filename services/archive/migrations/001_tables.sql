-- Tables of the archive. Applied with search_path set to the archive schema (default storesight),
-- so names here are unqualified. See services/archive/schema.py for why the layout is what it is.

-- Stores, filled from the region config (id, time zone, region): views compute store-local time in SQL.
CREATE TABLE stores (
    id        text PRIMARY KEY,
    region    text NOT NULL,
    name      text NOT NULL DEFAULT '',
    -- IANA name, checked by the config model.
    timezone  text NOT NULL
);

-- One row per zone per closed event-time window. Measured values are NULL when unknown, never 0.
-- Partitioned by month on window_start; partitions are created ahead by the archive (schema.py).
CREATE TABLE zone_stats (
    store_id            text        NOT NULL,
    zone_id             text        NOT NULL,
    window_start        timestamptz NOT NULL,
    window_end          timestamptz NOT NULL,
    zone_kind           text        NOT NULL DEFAULT '',
    status              text        NOT NULL CHECK (status IN ('ok', 'partial', 'unknown')),
    coverage            real        NOT NULL,
    occupancy_avg       real,
    occupancy_min       integer,
    occupancy_max       integer,
    entries             integer,
    exits               integer,
    unique_tracks       integer,
    dwell_p50_s         real,
    dwell_p90_s         real,
    dwell_max_s         real,
    queue_length        real,
    wait_estimate_s     real,
    wait_measured_s     real,
    throughput_per_min  real,
    late_records        integer     NOT NULL DEFAULT 0,
    -- k-anonymous attribute aggregates (expressions, age bands, genders), when a store opted in.
    attributes          jsonb,
    PRIMARY KEY (store_id, zone_id, window_start)
) PARTITION BY RANGE (window_start);

-- Hourly rollup of zone_stats, one row per zone per store-local hour (hour_start is the instant the
-- hour starts, truncated in the store's time zone, so a DST fall-back day has two "01:00" rows).
-- Rebuilt from zone_stats for every hour an archive batch touches: reports never scan minutes.
CREATE TABLE zone_hourly (
    store_id              text        NOT NULL,
    zone_id               text        NOT NULL,
    hour_start            timestamptz NOT NULL,
    -- The same hour on the store's wall clock (kept so reports need no per-row time-zone maths).
    local_hour            timestamp   NOT NULL,
    zone_kind             text        NOT NULL,
    windows               integer     NOT NULL,
    windows_known         integer     NOT NULL,
    coverage_sum          double precision NOT NULL,
    entries               bigint,
    exits                 bigint,
    occupancy_sum         double precision,
    occupancy_n           integer     NOT NULL,
    occupancy_max         integer,
    queue_length_sum      double precision,
    queue_length_n        integer     NOT NULL,
    wait_measured_sum     double precision,
    wait_measured_n       integer     NOT NULL,
    wait_estimate_sum     double precision,
    wait_estimate_n       integer     NOT NULL,
    PRIMARY KEY (store_id, zone_id, hour_start)
);

-- The audit trail of incidents (AlertEvent), one row per event.
CREATE TABLE alert_events (
    event_id      text PRIMARY KEY,
    incident_id   text        NOT NULL,
    rule_id       text        NOT NULL,
    store_id      text        NOT NULL,
    zone_id       text        NOT NULL DEFAULT '',
    camera_id     text        NOT NULL DEFAULT '',
    metric        text        NOT NULL DEFAULT '',
    from_state    text        NOT NULL,
    to_state      text        NOT NULL,
    action        text        NOT NULL DEFAULT '',
    value         double precision,
    threshold     double precision,
    severity      text        NOT NULL DEFAULT '',
    at            timestamptz NOT NULL,
    since         timestamptz,
    deliveries    jsonb       NOT NULL DEFAULT '[]'
);
CREATE INDEX alert_events_store_at ON alert_events (store_id, at);

-- Till transactions (imported from CSV): one row per basket.
CREATE TABLE transactions (
    store_id   text          NOT NULL,
    basket_id  text          NOT NULL,
    ts         timestamptz   NOT NULL,
    amount     numeric(12, 2) NOT NULL,
    PRIMARY KEY (store_id, basket_id)
);
CREATE INDEX transactions_store_ts ON transactions (store_id, ts);
