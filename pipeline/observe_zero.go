package pipeline

// Series created at zero when the pipeline is built (New), for the stages it
// runs: every label set known before any input. A Prometheus vector exports
// nothing until a child exists, so without this a fresh process would be
// missing series the dashboard (deploy/grafana) reads, and a counter born at 1
// shows no increase to rate() or increase(): the first dead letter, the first
// ClickHouse error of a table, would never appear on a graph or fire an alert.
//
// Left data-driven, because their labels are not known in advance or a zero
// would say something untrue:
//   - healthcode_persons{partition}: one series per owned partition, removed
//     when the partition is revoked; a process owning none holds no state.
//     healthcode_held_events{partition} likewise, with run --lateness only.
//   - healthcode_consumer_lag: measured by polling Kafka; a zero before the
//     first poll would claim a lag nobody measured.
//   - healthcode_dead_letters_total for a topic no stage of the process reads
//     (ingest refusing a message from a topic that is not upstream), and
//     healthcode_colour_updates_total for a colour only a later policy on
//     hc.policy names.

// stageTopics returns the topics a stage consumes and produces (the topic
// label of healthcode_messages_total with stage=stage) and the topics its
// dead letters can come from (their "topic" header). They follow the readers
// and writers ingest.go, guard.go, score.go, trace.go, sink.go, sinkref.go,
// journeys.go and override_sink.go build;
// TestMetrics_EndToEnd checks that a run adds no label set beyond these.
func (o *Options) stageTopics(stage string) (consumed, produced, deadFrom []string) {
	t := &o.Topics
	switch stage {
	case StageIngest:
		for _, s := range t.Sources {
			consumed = append(consumed, s)
		}
		return consumed, []string{t.AreaRisk, t.PersonEvents, t.Overrides, t.DeadLetter}, consumed
	case StageGuard:
		return []string{t.Overrides}, []string{t.PersonEvents, t.OverrideAudit, t.DeadLetter}, []string{t.Overrides}
	case StageScore:
		// A changelog record that does not decode is dead-lettered on restore.
		return []string{t.PersonEvents}, []string{t.ColourUpdates, t.Journeys, t.Presence, t.OverrideAudit, t.DeadLetter, t.State},
			[]string{t.PersonEvents, t.State}
	case StageTrace:
		return []string{t.Presence}, []string{t.Exposures, t.PersonEvents, t.DeadLetter}, []string{t.Presence}
	case StageSink:
		return []string{t.PersonEvents, t.ColourUpdates, t.Exposures, t.AreaRisk, t.Policy, t.Journeys, t.OverrideAudit}, []string{t.DeadLetter},
			[]string{t.PersonEvents, t.ColourUpdates, t.Exposures, t.AreaRisk, t.Journeys, t.OverrideAudit}
	}
	return nil, nil, nil
}

// zeroSeries creates the known series of o's stages at zero (see above).
func (m *Metrics) zeroSeries(o *Options) {
	p := m.p()
	for _, stage := range o.Stages {
		consumed, produced, deadFrom := o.stageTopics(stage)
		for _, topic := range append(consumed, produced...) {
			p.messages.WithLabelValues(stage, topic)
		}
		for _, topic := range deadFrom {
			p.dead.WithLabelValues(topic)
		}
		p.batch.WithLabelValues(stage)
		switch stage {
		case StageScore, StageTrace, StageGuard:
			p.owned.WithLabelValues(stage)
			p.restore.WithLabelValues(stage)
		case StageSink:
			for _, tables := range sinkTables {
				for _, table := range tables {
					p.chErrors.WithLabelValues(table)
					p.chRetries.WithLabelValues(table)
				}
			}
		}
		if stage == StageScore {
			for _, c := range o.Policy.Colours {
				p.colours.WithLabelValues(c)
			}
		}
		if stage == StageGuard {
			// healthcode_override_alerts_total: every alert of the policy the
			// guard runs (it does not follow hc.policy) shows, at 0.
			for _, a := range o.Policy.Overrides.Alerts {
				o.OverrideMetrics.Alerts.WithLabelValues(a.ID)
			}
		}
	}
	// The policy hub of a process with ingest, score or trace dead-letters a
	// policy it refuses.
	if o.has(StageIngest) || o.has(StageScore) || o.has(StageTrace) {
		p.dead.WithLabelValues(o.Topics.Policy)
	}
}
