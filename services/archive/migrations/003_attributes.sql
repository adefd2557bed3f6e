-- Sentiment and demographics by store-local hour, from the k-anonymous attribute aggregates that
-- opted-in stores send with ZoneStats (zone_stats.attributes). Detect counts each track once, in
-- the window where it was last seen, so a count is a number of visits (tracks) ending in that hour.
CREATE VIEW attributes_hourly AS
SELECT z.store_id,
       z.zone_id,
       date_trunc('hour', z.window_start, s.timezone)                        AS hour_start,
       (date_trunc('hour', z.window_start, s.timezone) AT TIME ZONE s.timezone) AS local_hour,
       (z.window_start AT TIME ZONE s.timezone)::date                        AS local_date,
       c.kind,
       c.label,
       sum(c.tracks)::bigint                                                 AS tracks
FROM zone_stats z
JOIN stores s ON s.id = z.store_id
CROSS JOIN LATERAL jsonb_array_elements(z.attributes) AS a(agg)
CROSS JOIN LATERAL (
    SELECT 'expression' AS kind, key AS label, value::int AS tracks FROM jsonb_each_text(a.agg -> 'expressions')
    UNION ALL
    SELECT 'age_band', key, value::int FROM jsonb_each_text(a.agg -> 'age_bands')
    UNION ALL
    SELECT 'gender', key, value::int FROM jsonb_each_text(a.agg -> 'genders')
) c
WHERE z.attributes IS NOT NULL
GROUP BY z.store_id, z.zone_id, date_trunc('hour', z.window_start, s.timezone), s.timezone,
         (z.window_start AT TIME ZONE s.timezone)::date, c.kind, c.label;
