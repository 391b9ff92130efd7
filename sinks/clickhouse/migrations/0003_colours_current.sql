-- colours_current: each person's latest colour. One row per person after
-- merges (ReplacingMergeTree(version) keeps the highest version); before a merge
-- read with argMax(..., version) grouped by person_key, or with FINAL.
-- Same conventions as colour_changes (UTC instants, review_at 0 = none,
-- reasons a JSON array). Not partitioned and never dropped by retention.
CREATE TABLE IF NOT EXISTS colours_current
(
    person_key   FixedString(32) COMMENT 'pseudonymous person key, 32 lowercase hex',
    version      UInt64,
    colour       String,
    previous     String,
    level        UInt8,
    policy       String,
    effective_at DateTime('UTC'),
    review_at    DateTime('UTC') COMMENT '0 if none',
    reasons      String          COMMENT 'JSON array of reasons',
    inserted_at  DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY person_key;
