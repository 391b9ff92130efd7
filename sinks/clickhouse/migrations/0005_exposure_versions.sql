-- exposures, versioned: an exposure's identity is (exposed person, source,
-- place, kind) and exposure_id is a hash of exactly those, so every finding
-- about the same contact is a new version of one row. ReplacingMergeTree(version)
-- keeps the highest version of each (exposed_key, exposure_id); a version with
-- retracted = 1 takes the exposure back. The current exposures are
--
--     SELECT ... FROM exposures FINAL WHERE retracted = 0
--
-- Columns as before (0004), plus version and retracted. A retracted row has
-- overlap_start and overlap_end 0, no evidence, and exposed_at the end of the
-- latest stay behind the exposure. The table is not partitioned: a new version
-- may fall in another month than the one it replaces, and rows replace each
-- other only inside one partition. Retention deletes by exposed_at instead
-- (sinks/clickhouse/retention.go).
--
-- The rows of 0004's table (ids of one overlap each, no versions) are kept in
-- exposures_0004 (same columns and engine as 0004's exposures). Each statement
-- is idempotent, and every prefix of them can run again: the first makes sure
-- an exposures table exists for the copy; the drop removes only 0004's table
-- or, on a run again, the still empty new one (the sink writes only after the
-- migrations have been recorded).
CREATE TABLE IF NOT EXISTS exposures
(
    exposure_id   String,
    exposed_key   FixedString(32) COMMENT 'pseudonymous key of the exposed person',
    source_key    String          COMMENT 'pseudonymous key of the case (or close contact), empty for area risk',
    kind          Enum8('close_contact' = 1, 'companion' = 2, 'secondary_contact' = 3, 'area_high' = 4, 'area_medium' = 5),
    place         String,
    overlap_start DateTime('UTC'),
    overlap_end   DateTime('UTC'),
    exposed_at    DateTime('UTC'),
    evidence      Array(String),
    version       UInt64          COMMENT 'rises with every version of the exposure; the highest is current',
    retracted     UInt8           COMMENT '1: this version takes the exposure back',
    inserted_at   DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (exposed_key, exposure_id);

CREATE TABLE IF NOT EXISTS exposures_0004
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(exposed_at)
ORDER BY (exposed_key, exposure_id)
AS SELECT exposure_id, exposed_key, source_key, kind, place, overlap_start, overlap_end, exposed_at, evidence, inserted_at
FROM exposures;

DROP TABLE IF EXISTS exposures;

CREATE TABLE IF NOT EXISTS exposures
(
    exposure_id   String,
    exposed_key   FixedString(32) COMMENT 'pseudonymous key of the exposed person',
    source_key    String          COMMENT 'pseudonymous key of the case (or close contact), empty for area risk',
    kind          Enum8('close_contact' = 1, 'companion' = 2, 'secondary_contact' = 3, 'area_high' = 4, 'area_medium' = 5),
    place         String,
    overlap_start DateTime('UTC'),
    overlap_end   DateTime('UTC'),
    exposed_at    DateTime('UTC'),
    evidence      Array(String),
    version       UInt64          COMMENT 'rises with every version of the exposure; the highest is current',
    retracted     UInt8           COMMENT '1: this version takes the exposure back',
    inserted_at   DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (exposed_key, exposure_id);
