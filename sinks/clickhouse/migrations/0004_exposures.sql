-- exposures: every exposure found by contact tracing and area risk, one row per
-- exposure_id (deterministic, so redeliveries merge away; read with FINAL).
-- exposed_key was exposed to source_key (the case; empty for area risk) at
-- place (v:venue, c:H3 cell, r:region, f:flight) during
-- [overlap_start, overlap_end]; exposed_at is the time the colour rule counts
-- from. evidence holds the event ids behind it. Times are UTC instants.
-- Partitions are calendar months of exposed_at; retention drops whole months.
CREATE TABLE IF NOT EXISTS exposures
(
    exposure_id   String,
    exposed_key   FixedString(32) COMMENT 'pseudonymous key of the exposed person',
    source_key    String          COMMENT 'pseudonymous key of the case, empty for area risk',
    kind          Enum8('close_contact' = 1, 'companion' = 2, 'secondary_contact' = 3, 'area_high' = 4, 'area_medium' = 5),
    place         String,
    overlap_start DateTime('UTC'),
    overlap_end   DateTime('UTC'),
    exposed_at    DateTime('UTC'),
    evidence      Array(String),
    inserted_at   DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(exposed_at)
ORDER BY (exposed_key, exposure_id);
