package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"healthcode/pipeline/wire"

	"healthcode/pipeline/kafka"
)

// overrides inserts hc.override-audit into override_audit and
// override_alerts. Both tables are append-only (plain MergeTree): a table
// written once is not written again when the other is retried.
func (s *sink) overrides(ctx context.Context) error {
	return s.consume(ctx, s.o.group(StageSink+"-overrides"), s.o.Topics.OverrideAudit, func(msgs []kafka.Message) ([]kafka.Message, func(context.Context) ([]kafka.Message, error)) {
		var audit []wire.OverrideAudit
		var alerts []wire.OverrideAlert
		var srcAudit, srcAlert []int
		var dead []kafka.Message
		for i := range msgs {
			var rec wire.OverrideAuditRecord
			err := json.Unmarshal(msgs[i].Value, &rec)
			switch {
			case err != nil:
				dead = append(dead, deadLetter(&msgs[i], fmt.Errorf("decode override audit record: %w", err)))
			case rec.Audit != nil && rec.Alert == nil:
				audit, srcAudit = append(audit, *rec.Audit), append(srcAudit, i)
			case rec.Alert != nil && rec.Audit == nil:
				alerts, srcAlert = append(alerts, *rec.Alert), append(srcAlert, i)
			default:
				dead = append(dead, deadLetter(&msgs[i], fmt.Errorf("decode override audit record: want exactly one of audit and alert")))
			}
		}
		auditDone, alertsDone := false, false
		var refused []kafka.Message
		return dead, func(ctx context.Context) ([]kafka.Message, error) {
			if !auditDone {
				r, err := refusedRows(s.ch.WriteOverrideAudit(ctx, audit))
				if err != nil {
					return nil, err
				}
				auditDone, refused = true, append(refused, refusedRecordLetters(msgs, srcAudit, r)...)
			}
			if !alertsDone {
				r, err := refusedRows(s.ch.WriteOverrideAlerts(ctx, alerts))
				if err != nil {
					return nil, err
				}
				alertsDone, refused = true, append(refused, refusedRecordLetters(msgs, srcAlert, r)...)
			}
			return refused, nil
		}
	})
}
