-- override_alerts: every bulk alert the override guard raised, append-only:
-- more than threshold overrides of one scope (an officer, an officer and
-- approver pair, a target colour, an office region) within window_seconds
-- ending at raised_at. While an alert stands, the overrides it covers wait
-- for a second approver (docs/overrides.md). Kept as long as override_audit.
CREATE TABLE IF NOT EXISTS override_alerts
(
    raised_at      DateTime('UTC') COMMENT 'occurred_at of the override that passed the threshold',
    alert_id       String          COMMENT 'deterministic: alert-RULE-SOURCE-EVENT',
    rule           String          COMMENT 'alert id of the policy',
    scope          Enum8('officer' = 1, 'pair' = 2, 'colour' = 3, 'region' = 4),
    officer_key    String          COMMENT 'officer and pair scopes: pseudonym of the officer',
    approver_key   String          COMMENT 'pair scope: pseudonym of the approver',
    colour         String          COMMENT 'the colour counted, if the rule or scope names one',
    office_region  String          COMMENT 'region scope: GB/T 2260 code',
    window_seconds UInt32,
    threshold      UInt32          COMMENT 'over of the rule: more than this many raise it',
    count          UInt32          COMMENT 'overrides in the window when it was raised',
    event_id       String          COMMENT 'the override that raised it',
    policy         String          COMMENT 'name@version of the policy',
    inserted_at    DateTime('UTC') DEFAULT now() COMMENT 'when the sink wrote the row'
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(raised_at)
ORDER BY (raised_at, alert_id);
