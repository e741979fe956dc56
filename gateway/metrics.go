package gateway

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series: per method, per backend and
// per limit.
type metrics struct {
	calls          *prometheus.CounterVec   // gateway_calls_total{method,class}
	latency        *prometheus.HistogramVec // gateway_call_duration_seconds{class}
	rejected       *prometheus.CounterVec   // gateway_rejected_total{reason}
	backendCalls   *prometheus.CounterVec   // gateway_backend_requests_total{backend,outcome}
	backendLatency *prometheus.HistogramVec // gateway_backend_duration_seconds{backend}
	healthy        *prometheus.GaugeVec     // gateway_backend_healthy{backend,role}
	block          *prometheus.GaugeVec     // gateway_backend_block{backend}
	mini           *prometheus.GaugeVec     // gateway_backend_mini_block{backend}
	wsConns        prometheus.Gauge
	subs           prometheus.Gauge
	resubscribed   prometheus.Counter
	closed         *prometheus.CounterVec // gateway_ws_closed_total{reason}

	mu      sync.Mutex
	methods map[string]bool // method labels in use, bounded
}

// maxMethodLabels bounds the method label; further methods count as "other".
const maxMethodLabels = 256

func newMetrics(reg prometheus.Registerer) *metrics {
	buckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}
	m := &metrics{
		calls:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_calls_total", Help: "JSON-RPC calls routed, by method and class (read, write, finality, filter)."}, []string{"method", "class"}),
		latency:        prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_call_duration_seconds", Help: "Time to answer the calls of one class of a request.", Buckets: buckets}, []string{"class"}),
		rejected:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_rejected_total", Help: "Requests and calls refused by a limit, by reason."}, []string{"reason"}),
		backendCalls:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_backend_requests_total", Help: "Requests sent to a backend, by outcome."}, []string{"backend", "outcome"}),
		backendLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_backend_duration_seconds", Help: "Backend answer time.", Buckets: buckets}, []string{"backend"}),
		healthy:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gateway_backend_healthy", Help: "1 while the backend is in service."}, []string{"backend", "role"}),
		block:          prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gateway_backend_block", Help: "Last sealed block of the backend, as last polled."}, []string{"backend"}),
		mini:           prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gateway_backend_mini_block", Help: "Newest mini-block of the backend, as last polled."}, []string{"backend"}),
		wsConns:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_ws_connections", Help: "Open client websocket connections."}),
		subs:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_subscriptions", Help: "Active client subscriptions."}),
		resubscribed:   prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_resubscriptions_total", Help: "Subscriptions moved to another backend after theirs failed."}),
		closed:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_ws_closed_total", Help: "Client websocket connections closed by the gateway, by reason."}, []string{"reason"}),
		methods:        map[string]bool{},
	}
	reg.MustRegister(m.calls, m.latency, m.rejected, m.backendCalls, m.backendLatency, m.healthy, m.block, m.mini, m.wsConns, m.subs, m.resubscribed, m.closed)
	return m
}

// method is the label for a method: itself while fewer than
// maxMethodLabels are in use.
func (m *metrics) method(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.methods[name] {
		return name
	}
	if len(m.methods) >= maxMethodLabels {
		return "other"
	}
	m.methods[name] = true
	return name
}

func (m *metrics) observeBackend(b *backend) {
	st := b.status()
	h := 0.0
	if st.Healthy {
		h = 1
	}
	m.healthy.WithLabelValues(b.url, b.role).Set(h)
	m.block.WithLabelValues(b.url).Set(float64(st.Block))
	m.mini.WithLabelValues(b.url).Set(float64(st.MiniBlock))
}
