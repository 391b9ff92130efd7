-- events: one row per person event read from hc.person-events (event-clock
-- ticks are not written). No raw identifiers: person_key is the pseudonymous key.
--
-- Conventions:
--   * DateTime columns are DateTime('UTC'): UTC instants, shown in UTC; use
--     toTimeZone(x, 'Asia/Shanghai') for local time.
--   * A DateTime of 0 (1970-01-01 00:00:00) means absent: ended_at is 0 when
--     the event has no end (no left_at, reported_at, until or departed_at).
--   * Numbers that do not apply to a kind are 0: temperature_c is 0 when no
--     temperature was declared; seat_row is -1 for crew and 0 off flights;
--     cell is 0 when there is no H3 cell.
--   * kafka_topic, kafka_partition and kafka_offset name the internal message
--     the row came from ('' and 0 when unknown).
--
-- Duplicate deliveries share (person_key, event_id, kind) and merge away
-- (ReplacingMergeTree); count with FINAL or uniqExact for exact answers.
-- Partitions are calendar months of occurred_at (UTC); retention drops whole
-- months.
CREATE TABLE IF NOT EXISTS events
(
    person_key      FixedString(32) COMMENT 'pseudonymous person key, 32 lowercase hex',
    event_id        String          COMMENT 'upstream event_id; the tracing event id for exposures',
    source          String          COMMENT 'upstream system that sent it',
    kind            Enum8('test' = 1, 'checkin' = 2, 'travel' = 3, 'arrival' = 4, 'vaccination' = 5, 'declaration' = 6, 'override' = 7, 'exposure' = 8),
    sub             UInt8           COMMENT 'test: 1 pcr 2 antigen 3 igg 4 igm; exposure: 1 close 2 companion 3 secondary 4 area-high 5 area-medium',
    result          UInt8           COMMENT 'test: 1 negative 2 positive 3 inconclusive',
    level           UInt8           COMMENT 'override: colour level',
    dose            UInt8           COMMENT 'vaccination: dose number',
    symptoms        UInt8           COMMENT 'declaration: bits 1 fever 2 cough 4 fatigue 8 loss_of_smell 16 sore_throat',
    temperature_c   Float32         COMMENT 'declaration: body temperature, 0 if none',
    seat_row        Int16           COMMENT 'arrival: seat row, -1 for crew',
    occurred_at     DateTime('UTC') COMMENT 'when it happened (arrival: arrived_at; exposure: end of overlap)',
    ended_at        DateTime('UTC') COMMENT 'left_at, reported_at, until or departed_at; 0 if none',
    cell            UInt64          COMMENT 'H3 cell of the venue or location, 0 if none',
    country         String          COMMENT 'ISO 3166-1 alpha-3: arrival origin or travel country',
    place           String          COMMENT 'venue id, region code, FLIGHT/DATE, or the exposure place',
    text            String          COMMENT 'override reason',
    kafka_topic     String          COMMENT 'internal topic the row came from',
    kafka_partition UInt32          COMMENT 'its partition',
    kafka_offset    UInt64          COMMENT 'its offset',
    inserted_at     DateTime('UTC') DEFAULT now() COMMENT 'when the sink wrote the row'
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (person_key, event_id, kind);
