-- area_designations: every area risk designation the pipeline holds, one row
-- per designation as validated on hc.area-risk (written by the sink's
-- healthcode-sink-areas group). area_kind is country (ISO alpha-3 code),
-- region (GB/T 2260 code) or h3 (code: the cell index in hex, cell: the same
-- cell as a number). A designation is in force from valid_from until the
-- earlier of valid_until (0: open-ended) and the valid_from of the next
-- designation of the same area; two of one area with the same valid_from:
-- the larger event_id wins (as the engine decides). Times are UTC instants.
-- Duplicate deliveries share (code, area_kind, valid_from, event_id) and merge
-- away (ReplacingMergeTree); read with FINAL or argMax(..., event_id) grouped
-- by (area_kind, code, valid_from). Not partitioned, never pruned: reference
-- data, like hc.area-risk.
CREATE TABLE IF NOT EXISTS area_designations
(
    code        String          COMMENT 'country ISO alpha-3, region GB/T 2260 code, or H3 cell index in hex',
    area_kind   Enum8('country' = 1, 'region' = 2, 'h3' = 3),
    cell        UInt64          COMMENT 'h3: the cell; 0 otherwise',
    level       Enum8('low' = 1, 'medium' = 2, 'high' = 3),
    valid_from  DateTime('UTC') COMMENT 'start of the designation',
    valid_until DateTime('UTC') COMMENT 'its end; 0 if open-ended (a later designation of the area still ends it)',
    event_id    String          COMMENT 'upstream event_id of the designation',
    inserted_at DateTime('UTC') DEFAULT now() COMMENT 'when the sink wrote the row'
)
ENGINE = ReplacingMergeTree()
ORDER BY (code, area_kind, valid_from, event_id);
