-- return_journeys: one row per declared return journey from abroad, as far as
-- it has come (scoring/journey.go), from hc.journeys. The score stage writes a
-- new version whenever what the row shows changes; ReplacingMergeTree(version)
-- keeps the highest version of each person (a person has one journey: the
-- latest declaration, an amendment included), so read it with FINAL (or
-- argMax(..., version)). Times are 0 where a step is not reached. Not
-- partitioned (a new version may fall in another month) and not pruned by
-- retention, like colours_current.
CREATE TABLE IF NOT EXISTS return_journeys
(
    person_key         FixedString(32) COMMENT 'pseudonymous key of the returnee',
    journey_id         String          COMMENT 'event_id of the declaration in force',
    version            UInt64          COMMENT 'rises with every row of the journey; the highest is current',
    status             Enum8('declared' = 1, 'boarded' = 2, 'landed' = 3, 'arrived' = 4, 'quarantine' = 5, 'released' = 6),
    effective_at       DateTime('UTC') COMMENT 'when this row took effect',
    origin_country     String          COMMENT 'ISO 3166-1 alpha-3 of where the journey starts',
    origin_city        String,
    flights            Array(String)   COMMENT 'declared flights, NUMBER/DATE',
    port_of_entry      String          COMMENT 'declared airport of entry into China (IATA)',
    destination_region String          COMMENT 'declared final destination in the province (GB/T 2260)',
    planned_arrival    DateTime('UTC'),
    declared_at        DateTime('UTC'),
    boarded_at         DateTime('UTC') COMMENT 'departure of the first leg',
    landed_at          DateTime('UTC') COMMENT 'arrival from abroad at the port',
    arrived_at         DateTime('UTC') COMMENT 'first presence in the province after landing',
    quarantine_at      DateTime('UTC') COMMENT 'start of an arrival rule in the province',
    released_at        DateTime('UTC') COMMENT 'end of the arrival rules',
    landed_port        String          COMMENT 'airport of the landing from abroad (IATA)',
    landed_flight      String          COMMENT 'flight of the landing from abroad, NUMBER/DATE',
    other_flight       UInt8           COMMENT '1: landed on a flight not declared',
    rule               String          COMMENT 'id of the arrival rule now applying, empty if none',
    inserted_at        DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY person_key;
