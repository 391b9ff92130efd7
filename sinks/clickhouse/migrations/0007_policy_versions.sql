-- policy_versions: the policies the pipeline ran under. source 'start' is the
-- policy a sink process started with (--policy), one row per process start,
-- published_at the wall clock of that start; source 'topic' is a record of
-- hc.policy that parsed as a valid policy, published_at its Kafka timestamp
-- and kafka_offset its offset. policy is the JSON document: as published for
-- 'topic' rows, as parsed (defaults filled in) for 'start' rows. stamp is
-- name@version, the value of colour_changes.policy. published_at is always
-- wall-clock time, also in event-clock replays. Records hc.policy refuses are
-- not written (they are in hc.dead-letter). Duplicate deliveries share the
-- whole key and merge away (ReplacingMergeTree).
CREATE TABLE IF NOT EXISTS policy_versions
(
    name         String,
    version      UInt32,
    stamp        String          COMMENT 'name@version, as in colour_changes.policy',
    source       Enum8('start' = 1, 'topic' = 2),
    published_at DateTime('UTC') COMMENT 'Kafka timestamp of the hc.policy record, or the process start',
    kafka_offset Int64           COMMENT 'offset on hc.policy; -1 for a start policy',
    policy       String          COMMENT 'the policy JSON',
    inserted_at  DateTime('UTC') DEFAULT now() COMMENT 'when the sink wrote the row'
)
ENGINE = ReplacingMergeTree()
ORDER BY (name, version, source, published_at, kafka_offset);
