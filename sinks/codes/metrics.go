package codes

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the code service's own; the service's registry holds them.
type metrics struct {
	requests   *prometheus.CounterVec   // endpoint, code
	latency    *prometheus.HistogramVec // endpoint
	updateLag  prometheus.Histogram
	badMessage *prometheus.CounterVec // topic
	persons    prometheus.GaugeFunc
}

func newMetrics(store *Store) *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "healthcode_codes_requests_total",
			Help: "HTTP requests of the code service, by endpoint and status code."}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "healthcode_codes_request_duration_seconds",
			Help:    "Time to answer a request, by endpoint.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}}, []string{"endpoint"}),
		updateLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "healthcode_codes_update_to_token_seconds",
			Help:    "From a colour update's Kafka timestamp to the moment its new token is served (the update applied), after the restore.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		badMessage: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "healthcode_codes_bad_messages_total",
			Help: "Messages the code service could not apply, by topic."}, []string{"topic"}),
		persons: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "healthcode_codes_persons",
			Help: "Persons whose colour the code service holds."}, func() float64 { return float64(store.Len()) }),
	}
}

func (m *metrics) register(r prometheus.Registerer) {
	r.MustRegister(m.requests, m.latency, m.updateLag, m.badMessage, m.persons)
}

// statusWriter records the status code a handler writes.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// instrument counts and times the requests of one endpoint.
func (m *metrics) instrument(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	obs := m.latency.WithLabelValues(endpoint)
	ok := m.requests.WithLabelValues(endpoint, "200")
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		obs.Observe(time.Since(start).Seconds())
		if sw.code == http.StatusOK {
			ok.Inc()
		} else {
			m.requests.WithLabelValues(endpoint, strconv.Itoa(sw.code)).Inc()
		}
	}
}
