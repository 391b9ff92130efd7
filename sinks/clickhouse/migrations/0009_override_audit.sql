-- override_audit: every official override the pipeline decided, append-only.
-- One row per decision: the override guard writes accepted, refused, held and
-- confirmed; the scoring stage writes applied (or superseded) with the
-- person's colour before and after. Nothing in the pipeline updates or
-- deletes a row; retention (--audit-retention-days, the longest of all
-- tables) drops whole months of occurred_at. Officers and approvers are
-- pseudonyms keyed like persons (healthcode key --id-type officer); no name
-- is stored. Times are UTC instants; 0 means absent.
--
-- Kafka delivers at least once: a redelivered decision is a second identical
-- row (count with uniqExact(event_id, decision), or LIMIT 1 BY event_id, decision).
CREATE TABLE IF NOT EXISTS override_audit
(
    officer_key         String          COMMENT 'pseudonym of the officer (32 hex)',
    occurred_at         DateTime('UTC') COMMENT 'when the override was decided upstream',
    event_id            String          COMMENT 'upstream event_id of the override (or of the confirmation)',
    decision            Enum8('accepted' = 1, 'refused' = 2, 'held' = 3, 'confirmed' = 4, 'applied' = 5, 'superseded' = 6),
    source              String          COMMENT 'upstream system that sent it',
    person_key          String          COMMENT 'pseudonymous key of the person (32 hex)',
    approver_key        String          COMMENT 'pseudonym of the approver',
    second_approver_key String          COMMENT 'accepted after a hold: pseudonym of the approver who confirmed it',
    colour              String          COMMENT 'the colour asked for',
    level               UInt8           COMMENT 'its level',
    colour_before       String          COMMENT 'applied, superseded: colour of the person before',
    colour_after        String          COMMENT 'applied, superseded: colour of the person after',
    reason              String          COMMENT 'the reason shown to the citizen',
    reason_code         String          COMMENT 'the policy reason code, if any',
    office_region       String          COMMENT 'GB/T 2260 code of the deciding office, if given',
    until               DateTime('UTC') COMMENT 'when the override ends',
    decided_at          DateTime('UTC') COMMENT 'clock of the deciding stage',
    why                 String          COMMENT 'why refused or held, or how accepted; one sentence, no identifiers',
    confirms            String          COMMENT 'confirmed: the event_id of the held override it released',
    policy              String          COMMENT 'name@version of the deciding policy',
    inserted_at         DateTime('UTC') DEFAULT now() COMMENT 'when the sink wrote the row'
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (officer_key, occurred_at, event_id, decision);
