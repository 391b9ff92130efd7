-- colour_changes: every update sent on hc.colour-updates, one row per
-- (person_key, version). Times are UTC instants (DateTime('UTC')); a review_at
-- of 0 (1970-01-01 00:00:00) means nothing is pending. reasons is the
-- contract's JSON array as sent; rules repeats its rule ids for easy SQL
-- (has(rules, 'close-contact')). previous is '' on a person's first update.
-- Duplicate deliveries merge away (ReplacingMergeTree); read with FINAL.
-- Partitions are calendar months of effective_at (UTC); retention drops whole
-- months.
CREATE TABLE IF NOT EXISTS colour_changes
(
    person_key   FixedString(32) COMMENT 'pseudonymous person key, 32 lowercase hex',
    version      UInt64          COMMENT 'per-person version, +1 per update',
    colour       String,
    previous     String          COMMENT 'colour before this update, empty on the first',
    level        UInt8           COMMENT 'severity, 0 = lowest',
    policy       String          COMMENT 'name@version of the deciding policy',
    effective_at DateTime('UTC'),
    review_at    DateTime('UTC') COMMENT 'next re-evaluation without new input, 0 if none',
    reasons      String          COMMENT 'JSON array of reasons, as on hc.colour-updates',
    rules        Array(String)   COMMENT 'rule ids of the reasons',
    inserted_at  DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(effective_at)
ORDER BY (person_key, version);
