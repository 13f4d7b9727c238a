package bench_test

// GetArticle driven by ghz (github.com/bojand/ghz), a load generator
// outside this code base, against the no-op server and the real one in the
// same run. bench/ghz.sh installs the pinned ghz and runs it; without ghz
// on PATH or in $(go env GOPATH)/bin the benchmark skips.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// ghzPath returns the ghz binary, or "" when there is none.
func ghzPath() string {
	if p, err := exec.LookPath("ghz"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(string(out[:len(out)-1]), "bin", "ghz")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// writeProtoset writes the descriptors of the articles API and its
// imports to a file for ghz's --protoset.
func writeProtoset(b *testing.B) string {
	b.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(articlesv1.File_articles_v1_articles_proto)
	data, err := proto.Marshal(set)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "articles.protoset")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkGetArticleGhz runs ghz with 1 and with 50 concurrent callers
// (on one connection, as the Go client benchmark does) against the no-op
// server and the real one, alternating runs of 2 s (pairRounds each per
// iteration), and reports ghz's calls/s for each and their ratio.
func BenchmarkGetArticleGhz(b *testing.B) {
	ghz := ghzPath()
	if ghz == "" {
		b.Skip("ghz is not installed (bench/ghz.sh installs it)")
	}
	protoset := writeProtoset(b)
	for _, callers := range []int{1, 50} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			noopAddr, noopID := startNoopAddr(b), "01J0000000000000000000000"
			rpc, srv := startReal(b)
			seed(b, srv, 100)
			settle(b, rpc)
			realID, realAddr := firstID(b, rpc), listen(b, srv)
			run := func(addr, id string) float64 {
				out, err := exec.Command(ghz, "--insecure", "--protoset", protoset,
					"--call", "articles.v1.ArticleService.GetArticle",
					"-d", fmt.Sprintf(`{"id":%q}`, id),
					"-c", fmt.Sprint(callers), "-z", "2s", "--duration-stop", "wait", "--cpus", "2",
					"-O", "json", addr).Output()
				if err != nil {
					b.Fatalf("ghz: %v: %s", err, out)
				}
				var report struct {
					Rps    float64        `json:"rps"`
					Errors map[string]int `json:"errorDistribution"`
				}
				if err := json.Unmarshal(out, &report); err != nil {
					b.Fatalf("ghz output: %v", err)
				}
				if len(report.Errors) > 0 {
					b.Fatalf("ghz saw errors: %v", report.Errors)
				}
				return report.Rps
			}
			var noopRPS, realRPS float64
			for b.Loop() {
				for range pairRounds / 2 {
					noopRPS += run(noopAddr, noopID)
					realRPS += run(realAddr, realID)
				}
			}
			n := float64(pairRounds / 2 * b.N)
			b.ReportMetric(noopRPS/n, "noop-calls/s")
			b.ReportMetric(realRPS/n, "real-calls/s")
			b.ReportMetric(realRPS/noopRPS, "ratio")
		})
	}
}

// startNoopAddr serves the no-op server on loopback TCP and returns its
// address.
func startNoopAddr(b *testing.B) string {
	b.Helper()
	a := article(1)
	a.Id, a.Slug = "01J0000000000000000000000", "noop"
	g := grpc.NewServer()
	articlesv1.RegisterArticleServiceServer(g, &noop{a: a})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go g.Serve(lis)
	b.Cleanup(g.Stop)
	return lis.Addr().String()
}
