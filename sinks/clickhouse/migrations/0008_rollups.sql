-- Rollups kept by materialized views: each view adds the rows of every insert
-- into its source table to an AggregatingMergeTree, so a question over days or
-- places reads a few rows instead of scanning the base table. Every count is a
-- uniq state (uniqState/uniqMerge) of an identity, never a count(): a
-- redelivered row (Kafka is at least once) has the same identity and changes
-- nothing, exactly as the ReplacingMergeTree base tables merge it away. Read
-- with the -Merge combinators and GROUP BY (docs/sql.md). day is the UTC date.
-- The views see inserts made after this migration; rows already in the base
-- tables are not rolled up (docs/clickhouse.md gives the backfill).
-- Partitions are calendar months of day; retention drops them with the base
-- tables' months.
--
-- colour_transitions_daily: per UTC day of effective_at, deciding policy,
-- colour before (previous, '' on a person's first update) and after, and each
-- rule of the new reasons ('' when there is none, i.e. the lowest colour):
-- the persons with such an update. Updates that keep the colour (new reasons
-- or review_at) are rows with from_colour = to_colour.
CREATE TABLE IF NOT EXISTS colour_transitions_daily
(
    day         Date,
    policy      String,
    from_colour String,
    to_colour   String,
    rule        String,
    persons     AggregateFunction(uniq, FixedString(32)),
    updates     AggregateFunction(uniq, FixedString(32), UInt64)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, policy, from_colour, to_colour, rule);

CREATE MATERIALIZED VIEW IF NOT EXISTS colour_transitions_daily_mv TO colour_transitions_daily AS
SELECT toDate(effective_at) AS day, policy, previous AS from_colour, colour AS to_colour, rule,
       uniqState(person_key) AS persons, uniqState(person_key, version) AS updates
FROM colour_changes
ARRAY JOIN if(empty(rules), [''], rules) AS rule
GROUP BY day, policy, from_colour, to_colour, rule;

-- exposures_daily: per UTC day of exposed_at, exposure kind and place kind
-- (venue, cell, region, flight from the place key's prefix): the exposures
-- (distinct exposure_id) and the distinct exposed persons.
CREATE TABLE IF NOT EXISTS exposures_daily
(
    day        Date,
    kind       String,
    place_kind String,
    exposures  AggregateFunction(uniq, String),
    persons    AggregateFunction(uniq, FixedString(32))
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, kind, place_kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS exposures_daily_mv TO exposures_daily AS
SELECT toDate(exposed_at) AS day, toString(kind) AS kind,
       multiIf(substring(place, 1, 2) = 'v:', 'venue', substring(place, 1, 2) = 'c:', 'cell',
               substring(place, 1, 2) = 'r:', 'region', substring(place, 1, 2) = 'f:', 'flight', 'other') AS place_kind,
       uniqState(exposure_id) AS exposures, uniqState(exposed_key) AS persons
FROM exposures
WHERE retracted = 0
GROUP BY day, kind, place_kind;

-- place_exposures: hot spots. Per place key (v:venue, c:H3 cell hex, r:region,
-- f:FLIGHT/DATE), exposure kind and UTC day of exposed_at: the exposures, the
-- exposed persons, the cases (source persons; area exposures have none), the
-- first overlap start and the last overlap end.
CREATE TABLE IF NOT EXISTS place_exposures
(
    place     String,
    kind      String,
    day       Date,
    exposures AggregateFunction(uniq, String),
    persons   AggregateFunction(uniq, FixedString(32)),
    sources   AggregateFunction(uniq, String),
    first_at  AggregateFunction(min, DateTime('UTC')),
    last_at   AggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (place, kind, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS place_exposures_mv TO place_exposures AS
SELECT place, toString(kind) AS kind, toDate(exposed_at) AS day,
       uniqState(exposure_id) AS exposures, uniqState(exposed_key) AS persons, uniqStateIf(source_key, source_key != '') AS sources,
       minState(overlap_start) AS first_at, maxState(overlap_end) AS last_at
FROM exposures
WHERE retracted = 0
GROUP BY place, kind, day;
