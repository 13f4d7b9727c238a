package metrics

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"
)

// TestGRPCMetricsMatchProvider: the same calls (unary and server
// streaming, succeeding and failing) through go-grpc-middleware's
// prometheus provider and through grpcMetrics give the same metric
// families, series, help texts, counts and histogram buckets.
func TestGRPCMetricsMatchProvider(t *testing.T) {
	t.Parallel()
	provider := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(handlingBuckets)))
	ours := newGRPCMetrics(handlingBuckets)
	want := exercise(t, provider, provider.UnaryServerInterceptor(), provider.StreamServerInterceptor(), func(gs *grpc.Server) { provider.InitializeMetrics(gs) })
	got := exercise(t, ours, ours.unaryInterceptor(), ours.streamInterceptor(), func(gs *grpc.Server) { ours.initialize(gs) })
	if !slices.Equal(got, want) {
		t.Errorf("grpcMetrics series differ from the provider's:\ngot:\n%q\nwant:\n%q", got, want)
	}
}

// exercise serves the health service through the interceptors, makes
// calls of every kind (after initialize, if not nil) and returns the
// collector's series, one line each, timings left out.
func exercise(t *testing.T, c prometheus.Collector, unary grpc.UnaryServerInterceptor, stream grpc.StreamServerInterceptor, initialize func(*grpc.Server)) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream))
	hs := health.NewServer()
	hs.SetServingStatus("up", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	initialize(gs)
	lis := bufconn.Listen(1 << 16)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx := t.Context()
	for _, svc := range []string{"up", "up", "missing"} {
		hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc}) // OK, OK, NOT_FOUND
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{Service: "up"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	w.Recv()
	gs.GracefulStop() // the Watch handler has returned: its series are final
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		out = append(out, fmt.Sprintf("%s %s %s", f.GetName(), f.GetType(), f.GetHelp()))
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, fmt.Sprintf("  %v %v", labels, m.GetCounter().GetValue()))
			case dto.MetricType_HISTOGRAM:
				var bounds []float64
				for _, b := range m.GetHistogram().GetBucket() {
					bounds = append(bounds, b.GetUpperBound())
				}
				out = append(out, fmt.Sprintf("  %v count %d buckets %v", labels, m.GetHistogram().GetSampleCount(), bounds))
			}
		}
	}
	return out
}

// BenchmarkUnaryInterceptor: the cost the gRPC metrics add to a unary
// call, against go-grpc-middleware's provider.
func BenchmarkUnaryInterceptor(b *testing.B) {
	provider := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(handlingBuckets)))
	for _, bb := range []struct {
		name string
		i    grpc.UnaryServerInterceptor
	}{
		{"provider", provider.UnaryServerInterceptor()},
		{"grpcMetrics", newGRPCMetrics(handlingBuckets).unaryInterceptor()},
	} {
		b.Run(bb.name, func(b *testing.B) {
			info := &grpc.UnaryServerInfo{FullMethod: "/articles.v1.ArticleService/CreateArticle"}
			handler := func(context.Context, any) (any, error) { return nil, nil }
			b.ReportAllocs()
			for b.Loop() {
				bb.i(context.Background(), nil, info, handler)
			}
		})
	}
}
