package rpc

import (
	"bytes"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics are the server's distributions: request latency per method
// over HTTP and over websocket, and the depth of websocket send queues.
//
// Websocket calls get a histogram of their own rather than a transport label
// on the HTTP one: the two measure different spans (a websocket answer waits
// in the connection's send queue behind notifications), and boards and
// alerts written against the HTTP histogram keep their meaning.
type serverMetrics struct {
	requests   *prometheus.HistogramVec // meganode_rpc_request_duration_seconds{method}
	wsRequests *prometheus.HistogramVec // meganode_ws_request_duration_seconds{method}
	queue      prometheus.Histogram     // meganode_ws_send_queue_depth

	mu      sync.Mutex
	methods map[string]string // method labels in use, bounded; the value is the key, so a []byte finds its string without allocating
}

// maxMethodLabels bounds the method label; further names count as "other".
const maxMethodLabels = 256

// methodPrefixes are the namespaces a method label may name: a name a
// client made up is "other", so it cannot grow the label set.
var methodPrefixes = []string{"eth_", "net_", "web3_", "debug_", "txpool_", "mega_", "realtime_", "optimism_", "anvil_", "hardhat_", "evm_", "personal_", "ha_"}

// requestBuckets are the latency buckets of both request histograms.
var requestBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 2.5, 10}

// Instrument registers the server's metrics with reg; call it before Start.
func (s *Server) Instrument(reg prometheus.Registerer) {
	m := &serverMetrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meganode_rpc_request_duration_seconds",
			Help:    "Time to answer a JSON-RPC request over HTTP, by method (\"batch\" for a batch).",
			Buckets: requestBuckets,
		}, []string{"method"}),
		wsRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meganode_ws_request_duration_seconds",
			Help:    "Time from reading a JSON-RPC call on a websocket to writing its answer, send queue included, by method (\"batch\" for a batch).",
			Buckets: requestBuckets,
		}, []string{"method"}),
		queue: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meganode_ws_send_queue_depth",
			Help:    "Messages still queued behind each websocket message as it is written (the limit is --ws.send-queue).",
			Buckets: []float64{0, 1, 4, 16, 64, 256, 1024, 4096, 8192},
		}),
		methods: map[string]string{},
	}
	reg.MustRegister(m.requests, m.wsRequests, m.queue)
	s.metrics = m
}

// observeRequest records one HTTP request's latency under its method.
func (m *serverMetrics) observeRequest(body []byte, start time.Time) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(m.label(requestMethod(body))).Observe(time.Since(start).Seconds())
}

// observeWS records one websocket call's latency under its method label.
func (m *serverMetrics) observeWS(label string, start time.Time) {
	m.wsRequests.WithLabelValues(label).Observe(time.Since(start).Seconds())
}

func (m *serverMetrics) observeQueue(depth int) {
	if m != nil {
		m.queue.Observe(float64(depth))
	}
}

// label is the method label for name: itself while it names a served
// namespace and fewer than maxMethodLabels are in use.
func (m *serverMetrics) label(name string) string {
	return m.labelBytes([]byte(name))
}

// labelBytes is label for a method name still in the message it came in;
// it allocates only for a name not seen before.
func (m *serverMetrics) labelBytes(name []byte) string {
	if string(name) == "batch" {
		return "batch"
	}
	known := false
	for _, p := range methodPrefixes {
		if bytes.HasPrefix(name, []byte(p)) {
			known = true
			break
		}
	}
	if !known {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.methods[string(name)]; ok {
		return l
	}
	if len(m.methods) >= maxMethodLabels {
		return "other"
	}
	l := string(name)
	m.methods[l] = l
	return l
}

// requestMethod finds the method of a single call without decoding the
// body: "batch" for an array, "" when there is none to find.
func requestMethod(body []byte) string {
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) > 0 && body[0] == '[' {
		return "batch"
	}
	i := bytes.Index(body, []byte(`"method"`))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(body[i+len(`"method"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 || end > 64 {
		return ""
	}
	return string(rest[1 : 1+end])
}
