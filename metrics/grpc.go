package metrics

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// grpcMetrics are the gRPC server metrics of go-grpc-middleware's
// prometheus provider, with its names, help, labels and semantics (a
// call is started and has received its request before the handler runs,
// sent its reply if the handler succeeds, then is handled with its code
// and timed), recorded by interceptors that look each method's series up
// once rather than by their label values on every call: five label
// lookups per call were most of the provider's cost on a unary call.
type grpcMetrics struct {
	started, handled, received, sent *prometheus.CounterVec
	handling                         *prometheus.HistogramVec

	// unary and streams hold a *methodSeries per method of that kind,
	// keyed by the full method name.
	unary, streams sync.Map
}

func newGRPCMetrics(buckets []float64) *grpcMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	withCode := []string{"grpc_type", "grpc_service", "grpc_method", "grpc_code"}
	return &grpcMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_started_total",
			Help: "Total number of RPCs started on the server.",
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_handled_total",
			Help: "Total number of RPCs completed on the server, regardless of success or failure.",
		}, withCode),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_received_total",
			Help: "Total number of RPC stream messages received on the server.",
		}, labels),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_server_msg_sent_total",
			Help: "Total number of gRPC stream messages sent by the server.",
		}, labels),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
			Buckets: buckets,
		}, labels),
	}
}

// Describe implements prometheus.Collector.
func (g *grpcMetrics) Describe(ch chan<- *prometheus.Desc) {
	g.started.Describe(ch)
	g.handled.Describe(ch)
	g.received.Describe(ch)
	g.sent.Describe(ch)
	g.handling.Describe(ch)
}

// Collect implements prometheus.Collector.
func (g *grpcMetrics) Collect(ch chan<- prometheus.Metric) {
	g.started.Collect(ch)
	g.handled.Collect(ch)
	g.received.Collect(ch)
	g.sent.Collect(ch)
	g.handling.Collect(ch)
}

// The grpc_type label values.
const (
	typeUnary        = "unary"
	typeClientStream = "client_stream"
	typeServerStream = "server_stream"
	typeBidiStream   = "bidi_stream"
)

func streamType(clientStream, serverStream bool) string {
	switch {
	case !clientStream && !serverStream:
		return typeUnary
	case clientStream && !serverStream:
		return typeClientStream
	case !clientStream && serverStream:
		return typeServerStream
	}
	return typeBidiStream
}

// numCodes is how many gRPC codes there are (OK to Unauthenticated).
const numCodes = int(codes.Unauthenticated) + 1

// methodSeries are the series of one method and call type.
type methodSeries struct {
	g                       *grpcMetrics
	labels                  []string // type, service, method
	started, received, sent prometheus.Counter
	handling                prometheus.Observer
	// handled holds the grpc_server_handled_total series by code, each
	// made on the code's first call, as the provider makes them.
	handled [numCodes]atomic.Pointer[prometheus.Counter]
}

// series returns the series of fullMethod called as typ, from byMethod
// (g.unary or g.streams) once they are made.
func (g *grpcMetrics) series(byMethod *sync.Map, typ, fullMethod string) *methodSeries {
	if s, ok := byMethod.Load(fullMethod); ok {
		return s.(*methodSeries)
	}
	service, method := splitMethod(fullMethod)
	labels := []string{typ, service, method}
	s := &methodSeries{
		g:        g,
		labels:   labels,
		started:  g.started.WithLabelValues(labels...),
		received: g.received.WithLabelValues(labels...),
		sent:     g.sent.WithLabelValues(labels...),
		handling: g.handling.WithLabelValues(labels...),
	}
	actual, _ := byMethod.LoadOrStore(fullMethod, s)
	return actual.(*methodSeries)
}

// splitMethod splits "/package.Service/Method" as the provider does.
func splitMethod(fullMethod string) (service, method string) {
	fullMethod = strings.TrimPrefix(fullMethod, "/")
	if i := strings.Index(fullMethod, "/"); i >= 0 {
		return fullMethod[:i], fullMethod[i+1:]
	}
	return "unknown", "unknown"
}

// done records the end of a call that began at start with err.
func (s *methodSeries) done(err error, start time.Time) {
	st, ok := status.FromError(err)
	if !ok {
		st = status.FromContextError(err)
	}
	code := st.Code()
	if int(code) < numCodes {
		c := s.handled[code].Load()
		if c == nil {
			h := s.g.handled.WithLabelValues(s.labels[0], s.labels[1], s.labels[2], code.String())
			s.handled[code].Store(&h)
			c = &h
		}
		(*c).Inc()
	} else {
		s.g.handled.WithLabelValues(s.labels[0], s.labels[1], s.labels[2], code.String()).Inc()
	}
	s.handling.Observe(time.Since(start).Seconds())
}

func (g *grpcMetrics) unaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		s := g.series(&g.unary, typeUnary, info.FullMethod)
		s.started.Inc()
		s.received.Inc()
		resp, err := handler(ctx, req)
		if err == nil {
			s.sent.Inc()
		}
		s.done(err, start)
		return resp, err
	}
}

func (g *grpcMetrics) streamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		s := g.series(&g.streams, streamType(info.IsClientStream, info.IsServerStream), info.FullMethod)
		s.started.Inc()
		err := handler(srv, &countedStream{ServerStream: ss, s: s})
		s.done(err, start)
		return err
	}
}

// countedStream counts the messages a stream sends and receives.
type countedStream struct {
	grpc.ServerStream
	s *methodSeries
}

func (c *countedStream) SendMsg(m any) error {
	err := c.ServerStream.SendMsg(m)
	if err == nil {
		c.s.sent.Inc()
	}
	return err
}

func (c *countedStream) RecvMsg(m any) error {
	err := c.ServerStream.RecvMsg(m)
	if err == nil {
		c.s.received.Inc()
	}
	return err
}

// initialize creates the zero series of every method server serves, with
// every code, as the provider's InitializeMetrics does.
func (g *grpcMetrics) initialize(server reflection.ServiceInfoProvider) {
	for service, info := range server.GetServiceInfo() {
		for _, m := range info.Methods {
			labels := []string{streamType(m.IsClientStream, m.IsServerStream), service, m.Name}
			g.started.WithLabelValues(labels...)
			g.received.WithLabelValues(labels...)
			g.sent.WithLabelValues(labels...)
			g.handling.WithLabelValues(labels...)
			for c := range numCodes {
				g.handled.WithLabelValues(labels[0], labels[1], labels[2], codes.Code(c).String())
			}
		}
	}
}
