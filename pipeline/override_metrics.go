package pipeline

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// OverrideMetrics count what the override guard and the scoring stage did
// with official overrides. Alerts is healthcode_override_alerts_total{reason}
// (reason: the policy's alert id); register Collectors on the process's
// registry. The counters feed the demo's summary.
type OverrideMetrics struct {
	Alerts    *prometheus.CounterVec
	Accepted  atomic.Int64 // overrides forwarded to the person's partition
	Refused   atomic.Int64 // overrides refused (rules, rate limit, a bad confirmation, held and never confirmed)
	Held      atomic.Int64 // overrides held for a second approver
	Confirmed atomic.Int64 // confirmations that released a held override
	Applied   atomic.Int64 // overrides the scoring stage applied
	Raised    atomic.Int64 // alerts raised
}

// NewOverrideMetrics returns a fresh set.
func NewOverrideMetrics() *OverrideMetrics {
	return &OverrideMetrics{Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "healthcode_override_alerts_total",
		Help: "Bulk override alerts raised by the override guard, by the policy's alert id.",
	}, []string{"reason"})}
}

// Collectors returns the metrics to register.
func (m *OverrideMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Alerts}
}
