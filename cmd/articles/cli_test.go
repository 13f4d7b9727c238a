package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/auth"
	"github.com/seed9c1868aa/articles/seeds"
)

// createArticle creates an article through the CLI and returns its id.
func createArticle(t *testing.T, addr string, args ...string) map[string]any {
	t.Helper()
	r := mustCLI(t, addr, "", append([]string{"create", "-o", "jsonl"}, args...)...)
	objs := jsonLines(t, r.stdout)
	if len(objs) != 1 {
		t.Fatalf("create printed %d objects, want 1: %q", len(objs), r.stdout)
	}
	return objs[0]
}

// errLine matches the one-line error report.
var errLine = regexp.MustCompile(`^articles: [A-Z_]+: .+\n$`)

func TestGet(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	a := createArticle(t, addr, "--title", "The New Silk Road", "--author", "Ann Lee", "--author", "Bo Chan",
		"--tag", "Asia", "--label", "team=news", "--publish-time", "2024-05-01T12:00:00Z",
		"--body", "Trade routes are back.\n\nThey never left.")
	id := a["id"].(string)

	t.Run("JSONL", func(t *testing.T) {
		r := mustCLI(t, addr, "", "get", id, "-o", "jsonl")
		objs := jsonLines(t, r.stdout)
		if len(objs) != 1 || objs[0]["id"] != id || objs[0]["body"] == nil || objs[0]["publishTime"] != "2024-05-01T12:00:00Z" {
			t.Errorf("get -o jsonl = %q, want the full article on one line", r.stdout)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		r := mustCLI(t, addr, "", "get", "--slug", "the-new-silk-road", "-o", "json")
		m := jsonObject(t, r.stdout)
		if m["id"] != id || !strings.Contains(r.stdout, "\n  \"id\"") {
			t.Errorf("get -o json = %q, want the article, indented", r.stdout)
		}
	})
	t.Run("IDOrSlug", func(t *testing.T) {
		// The argument's form says which it is; a slug shaped like an id
		// is found as a slug when no article has that id.
		idSlug := createArticle(t, addr, "--title", "Shaped like an id", "--slug", "01jd3zk6q9w1t0m4b6n8p2r5s7")
		for _, tt := range []struct{ arg, wantID string }{
			{id, id},
			{strings.ToLower(id), id},
			{"the-new-silk-road", id},
			{"01jd3zk6q9w1t0m4b6n8p2r5s7", idSlug["id"].(string)},
		} {
			r := mustCLI(t, addr, "", "get", tt.arg, "-o", "jsonl")
			if got := jsonLines(t, r.stdout)[0]["id"]; got != tt.wantID {
				t.Errorf("get %s = article %v, want %s", tt.arg, got, tt.wantID)
			}
		}
		for _, arg := range []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "no-such-slug"} {
			r := cli(t, addr, "", "get", arg)
			if r.code != exitError || !strings.HasPrefix(r.stderr, "articles: NOT_FOUND: ") {
				t.Errorf("get %s = exit %d, stderr %q; want NOT_FOUND", arg, r.code, r.stderr)
			}
		}
	})
	t.Run("BasicView", func(t *testing.T) {
		r := mustCLI(t, addr, "", "get", id, "--view", "basic", "-o", "jsonl")
		if m := jsonLines(t, r.stdout)[0]; m["body"] != nil || m["title"] != "The New Silk Road" {
			t.Errorf("get --view basic = %q, want no body", r.stdout)
		}
	})
	t.Run("MinRevision", func(t *testing.T) {
		rev := fmt.Sprint(a["revision"])
		r := mustCLI(t, addr, "", "get", id, "--min-revision", rev, "-o", "jsonl")
		if got := jsonLines(t, r.stdout)[0]["id"]; got != id {
			t.Errorf("get --min-revision %s = article %v, want %s", rev, got, id)
		}
		r = cli(t, addr, "", "get", id, "--min-revision", "-1")
		if r.code != exitUsage {
			t.Errorf("get --min-revision -1 = exit %d, stderr %q; want a usage error", r.code, r.stderr)
		}
	})
	t.Run("Table", func(t *testing.T) {
		r := mustCLI(t, addr, "", "get", id, "-o", "table")
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("table = %q, want a header and one row", r.stdout)
		}
		for _, col := range []struct{ head, cell string }{
			{"SLUG", "the-new-silk-road"}, {"TITLE", "The New Silk Road"},
			{"AUTHORS", "Ann Lee, Bo Chan"}, {"PUBLISHED", "2024-05-01"},
		} {
			h, c := strings.Index(lines[0], col.head), strings.Index(lines[1], col.cell)
			if h < 0 || h != c {
				t.Errorf("column %s at %d, its value %q at %d: table %q", col.head, h, col.cell, c, r.stdout)
			}
		}
	})
	t.Run("Text", func(t *testing.T) {
		r := mustCLI(t, addr, "", "get", id, "-o", "text")
		for _, want := range []string{"ID: " + id + "\n", "Title: The New Silk Road\n", "Authors: Ann Lee, Bo Chan\n",
			"Tags: asia\n", "Label: team=news\n", "Published: 2024-05-01T12:00:00Z\n", "\nTrade routes are back.\n\nThey never left.\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("text output lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		r := cli(t, addr, "", "get", "--slug", "nope")
		if r.code != exitError || !strings.HasPrefix(r.stderr, "articles: NOT_FOUND: ") || !errLine.MatchString(r.stderr) || r.stdout != "" {
			t.Errorf("get missing = exit %d, stderr %q, stdout %q; want exit 1 and one NOT_FOUND line", r.code, r.stderr, r.stdout)
		}
	})
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantErr  string // prefix of stderr
	}{
		{name: "Help", args: []string{"--help"}, wantCode: exitOK},
		{name: "SubcommandHelp", args: []string{"import", "--help"}, wantCode: exitOK},
		{name: "UnknownCommand", args: []string{"frobnicate"}, wantCode: exitUsage, wantErr: "articles: unknown command"},
		{name: "UnknownFlag", args: []string{"list", "--colour"}, wantCode: exitUsage, wantErr: "articles: unknown flag"},
		{name: "BadFlagValue", args: []string{"list", "--page-size", "many"}, wantCode: exitUsage, wantErr: "articles: invalid argument"},
		{name: "GetNoArgs", args: []string{"get"}, wantCode: exitUsage, wantErr: "articles: give an ID or a SLUG"},
		{name: "GetEmpty", args: []string{"get", " "}, wantCode: exitUsage},
		{name: "GetTwo", args: []string{"get", "a", "b"}, wantCode: exitUsage},
		{name: "GetIDAndSlug", args: []string{"get", "x", "--slug", "y"}, wantCode: exitUsage},
		{name: "BadOutput", args: []string{"list", "-o", "xml"}, wantCode: exitUsage, wantErr: "articles: unknown output format"},
		{name: "BadView", args: []string{"list", "--view", "huge"}, wantCode: exitUsage},
		{name: "BadTime", args: []string{"list", "--published-after", "yesterday"}, wantCode: exitUsage},
		{name: "ListArgs", args: []string{"list", "extra"}, wantCode: exitUsage},
		{name: "CreateNoTitle", args: []string{"create", "--body", "x"}, wantCode: exitUsage},
		{name: "CreateBadLabel", args: []string{"create", "--title", "x", "--label", "novalue"}, wantCode: exitUsage},
		{name: "UpdateNothing", args: []string{"update", "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, wantCode: exitUsage, wantErr: "articles: nothing to update"},
		{name: "DeleteNoID", args: []string{"delete"}, wantCode: exitUsage},
		{name: "SearchNoQuery", args: []string{"search"}, wantCode: exitUsage},
		{name: "WatchNegative", args: []string{"watch", "--from", "-1"}, wantCode: exitUsage},
		{name: "ServerInvalidArgument", args: []string{"list", "--order-by", "colour"}, wantCode: exitError, wantErr: "articles: INVALID_ARGUMENT: "},
		{name: "ServerBadToken", args: []string{"list", "--page-token", "forged"}, wantCode: exitError, wantErr: "articles: INVALID_ARGUMENT: "},
		{name: "ServerNotFound", args: []string{"delete", "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, wantCode: exitError, wantErr: "articles: NOT_FOUND: "},
		{name: "MissingFile", args: []string{"import", filepath.Join(t.TempDir(), "missing.jsonl")}, wantCode: exitError, wantErr: "articles: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, addr, tt.stdin, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, tt.wantErr) {
				t.Errorf("stderr = %q, want it to start with %q", r.stderr, tt.wantErr)
			}
			if tt.wantCode == exitError && (strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n")) {
				t.Errorf("stderr = %q, want exactly one error line", r.stderr)
			}
			if tt.wantCode == exitOK && !strings.Contains(r.stdout, "Example") {
				t.Errorf("help = %q, want examples", r.stdout)
			}
		})
	}
}

// TestConnectionErrors checks that a server that cannot be reached is one
// error line naming the address, the cause and --addr, and that the
// schemes --addr accepts reach a real server.
func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	stopped := l.Addr().String()
	l.Close()
	addr := startServer(t)
	tests := []struct {
		name, addr string
		code       int
		want       string // stderr prefix
	}{
		{"Refused", stopped, exitError, "articles: UNAVAILABLE: cannot reach " + stopped + ": connection refused"},
		{"UnknownHost", "no-such-host.invalid:50051", exitError, "articles: UNAVAILABLE: cannot reach no-such-host.invalid:50051: unknown host"},
		{"TLSToPlaintext", "https://" + addr, exitError, "articles: UNAVAILABLE: cannot reach " + addr + ": the server does not speak TLS"},
		{"HTTPScheme", "http://" + addr, exitOK, ""},
		{"GRPCScheme", "grpc://" + addr + "/", exitOK, ""},
		{"UnknownScheme", "ftp://" + addr, exitUsage, `articles: --addr "ftp://` + addr + `": unknown scheme "ftp"`},
		{"BadPort", "localhost:99999", exitUsage, "articles: --addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, tt.addr, "", "--timeout", "5s", "list")
			if r.code != tt.code || !strings.HasPrefix(r.stderr, tt.want) {
				t.Fatalf("list --addr %s = exit %d, stderr %q; want exit %d, stderr starting %q", tt.addr, r.code, r.stderr, tt.code, tt.want)
			}
			if tt.code == exitError && (!errLine.MatchString(r.stderr) || !strings.HasSuffix(r.stderr, "; check --addr or ARTICLES_ADDR\n")) {
				t.Errorf("stderr = %q, want one line ending with the hint at --addr", r.stderr)
			}
		})
	}
	t.Run("PlaintextContradictsTLS", func(t *testing.T) {
		t.Parallel()
		r := cli(t, "http://"+addr, "", "--tls", "list")
		if r.code != exitUsage || !strings.Contains(r.stderr, "contradicts --tls") {
			t.Errorf("http:// with --tls = exit %d, stderr %q; want a usage error", r.code, r.stderr)
		}
	})
}

func TestCreateUpdateDelete(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	dir := t.TempDir()

	body := filepath.Join(dir, "body.txt")
	if err := os.WriteFile(body, []byte("From a file.\n\nSecond paragraph."), 0o600); err != nil {
		t.Fatal(err)
	}
	a := createArticle(t, addr, "--title", "Draft", "--body-file", body, "--tag", "one", "--request-id", "r1")
	id, etag := a["id"].(string), a["etag"].(string)
	if a["body"] != "From a file.\n\nSecond paragraph." || a["summary"] != "From a file." {
		t.Errorf("created = %v, want the body from the file and a derived summary", a)
	}
	t.Run("RequestIDRetry", func(t *testing.T) {
		again := createArticle(t, addr, "--title", "Draft", "--body-file", body, "--tag", "one", "--request-id", "r1")
		if again["id"] != id {
			t.Errorf("retried create made %v, want %s", again["id"], id)
		}
	})
	t.Run("BodyFromStdin", func(t *testing.T) {
		r := mustCLI(t, addr, "Piped body.", "create", "--title", "Piped", "--body-file", "-", "-o", "jsonl")
		if m := jsonLines(t, r.stdout)[0]; m["body"] != "Piped body." {
			t.Errorf("create --body-file - = %v", m)
		}
	})
	t.Run("FromFile", func(t *testing.T) {
		f := filepath.Join(dir, "a.json")
		if err := os.WriteFile(f, []byte(`{"title": "From JSON", "tags": ["x"], "author_bio": "Bio."}`), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustCLI(t, addr, "", "create", "--from", f, "--tag", "y", "-o", "jsonl")
		m := jsonLines(t, r.stdout)[0]
		if m["title"] != "From JSON" || fmt.Sprint(m["tags"]) != "[y]" || m["authorBio"] != "Bio." {
			t.Errorf("create --from with --tag = %v, want the file's fields with the flag's tags", m)
		}
	})

	t.Run("UpdateMaskIsTheFlags", func(t *testing.T) {
		r := mustCLI(t, addr, "", "update", id, "--title", "Final", "--tag=", "-o", "jsonl")
		m := jsonLines(t, r.stdout)[0]
		if m["title"] != "Final" || m["tags"] != nil || m["body"] != "From a file.\n\nSecond paragraph." || m["slug"] != "draft" {
			t.Errorf("update = %v, want new title, no tags, the body and slug unchanged", m)
		}
	})
	t.Run("UpdateFromFile", func(t *testing.T) {
		f := filepath.Join(dir, "patch.json")
		if err := os.WriteFile(f, []byte(`{"summary": "A new teaser."}`), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustCLI(t, addr, "", "update", id, "--from", f, "-o", "jsonl")
		if m := jsonLines(t, r.stdout)[0]; m["summary"] != "A new teaser." || m["title"] != "Final" {
			t.Errorf("update --from = %v, want only the summary changed", m)
		}
	})
	t.Run("UpdateStaleEtag", func(t *testing.T) {
		r := cli(t, addr, "", "update", id, "--title", "Again", "--etag", etag)
		if r.code != exitError || !strings.HasPrefix(r.stderr, "articles: ABORTED: ") {
			t.Errorf("stale update = exit %d, stderr %q; want ABORTED", r.code, r.stderr)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		r := cli(t, addr, "", "delete", id, "--etag", etag)
		if r.code != exitError || !strings.HasPrefix(r.stderr, "articles: ABORTED: ") {
			t.Errorf("stale delete = exit %d, stderr %q; want ABORTED", r.code, r.stderr)
		}
		r = mustCLI(t, addr, "", "delete", id, "-o", "table")
		if r.stdout != "deleted "+id+"\n" {
			t.Errorf("delete printed %q", r.stdout)
		}
		if r := cli(t, addr, "", "get", id); r.code != exitError || !strings.HasPrefix(r.stderr, "articles: NOT_FOUND: ") {
			t.Errorf("get after delete = exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// seedPage writes the embedded seed page to dir and returns its path.
func seedPage(t *testing.T, dir string) string {
	t.Helper()
	names, err := fs.Glob(seeds.Files(), "*.txt")
	if err != nil || len(names) == 0 {
		t.Fatalf("no seed pages: %v", err)
	}
	b, err := fs.ReadFile(seeds.Files(), names[0])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "page.txt")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImport(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	dir := t.TempDir()
	page := seedPage(t, dir)

	t.Run("SeedPage", func(t *testing.T) {
		r := mustCLI(t, addr, "", "import", page, "-o", "text")
		if r.stdout != "created 4, updated 0, unchanged 0, failures 0\n" {
			t.Errorf("import of the seed page printed %q", r.stdout)
		}
		// Again: upserted by slug, nothing new.
		r = mustCLI(t, addr, "", "import", page, "-o", "jsonl")
		if m := jsonLines(t, r.stdout)[0]; m["unchanged"] != float64(4) || m["created"] != nil {
			t.Errorf("second import = %v, want 4 unchanged", m)
		}
	})
	t.Run("JSONLFromStream", func(t *testing.T) {
		// The export of one server imports as is into another.
		exported := mustCLI(t, addr, "", "stream", "-o", "jsonl", "--view", "full").stdout
		other := startServer(t)
		f := filepath.Join(dir, "backup.jsonl")
		if err := os.WriteFile(f, []byte(exported), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustCLI(t, other, "", "import", f, "-o", "text")
		if r.stdout != "created 4, updated 0, unchanged 0, failures 0\n" {
			t.Errorf("import of the JSONL export printed %q", r.stdout)
		}
	})
	t.Run("JSONArrayFromStdin", func(t *testing.T) {
		in := `[{"title": "One"}, {"title": "Two", "tags": ["t"]}]`
		r := mustCLI(t, addr, in, "import", "-o", "text")
		if r.stdout != "created 2, updated 0, unchanged 0, failures 0\n" {
			t.Errorf("import of a JSON array printed %q", r.stdout)
		}
	})
	t.Run("Rejected", func(t *testing.T) {
		f := filepath.Join(dir, "bad.jsonl")
		if err := os.WriteFile(f, []byte("{\"title\": \"Fine\"}\n{\"body\": \"no title\"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := cli(t, addr, "", "import", f, "-o", "table")
		if r.code != exitError {
			t.Errorf("import with a rejected article: exit %d, want 1", r.code)
		}
		if !strings.HasPrefix(r.stdout, "created 1, updated 0, unchanged 0, failures 1\nfailed: "+f+":2: ") {
			t.Errorf("summary = %q, want the failure named by file and line", r.stdout)
		}
		if r.stderr != "articles: import: 1 of 2 articles rejected\n" {
			t.Errorf("stderr = %q, want one line", r.stderr)
		}
	})
	t.Run("Batches", func(t *testing.T) {
		// Three batches; the rejected article is in the second, and the
		// summary names it by its line, not its place in the batch.
		var b strings.Builder
		for i := range 2*importBatch + 34 {
			if i == importBatch+200 {
				b.WriteString("{\"body\": \"no title\"}\n")
				continue
			}
			fmt.Fprintf(&b, "{\"title\": \"Batch %d\"}\n", i)
		}
		f := filepath.Join(dir, "batches.jsonl")
		if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		r := cli(t, addr, "", "import", f, "-o", "text")
		want := fmt.Sprintf("created %d, updated 0, unchanged 0, failures 1\nfailed: %s:%d: ", 2*importBatch+33, f, importBatch+201)
		if r.code != exitError || !strings.HasPrefix(r.stdout, want) {
			t.Errorf("import of %d articles = exit %d, stdout %q; want it to start %q", 2*importBatch+34, r.code, r.stdout, want)
		}
	})
	t.Run("FailsMidway", func(t *testing.T) {
		// The second batch's call fails: the error says how many
		// articles the first one stored.
		var calls atomic.Int32
		failing := startServer(t, grpc.ChainStreamInterceptor(
			func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				if strings.HasSuffix(info.FullMethod, "/ImportArticles") && calls.Add(1) == 2 {
					return status.Error(codes.Unavailable, "going away")
				}
				return handler(srv, ss)
			}))
		var b strings.Builder
		for i := range importBatch + 10 {
			fmt.Fprintf(&b, "{\"title\": \"Midway %d\"}\n", i)
		}
		r := cli(t, failing, b.String(), "import", "-")
		want := fmt.Sprintf("articles: UNAVAILABLE: going away (the first %d of %d articles were imported)\n", importBatch, importBatch+10)
		if r.code != exitError || r.stderr != want {
			t.Errorf("import failing midway: exit %d, stderr %q; want %q", r.code, r.stderr, want)
		}
		got := mustCLI(t, failing, "", "list", "--all", "-o", "jsonl").stdout
		if n := strings.Count(got, "\n"); n != importBatch {
			t.Errorf("%d articles stored, want the first batch of %d", n, importBatch)
		}
	})
	t.Run("MalformedJSON", func(t *testing.T) {
		f := filepath.Join(dir, "broken.jsonl")
		if err := os.WriteFile(f, []byte("{\"title\": \"A\"}\n{\"title\": \n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := cli(t, addr, "", "import", f)
		if r.code != exitError || !strings.HasPrefix(r.stderr, "articles: "+f+":2: ") {
			t.Errorf("malformed import = exit %d, stderr %q; want exit 1 naming line 2", r.code, r.stderr)
		}
	})
	t.Run("UnknownField", func(t *testing.T) {
		r := cli(t, addr, `{"title": "A", "colour": "red"}`, "import", "-")
		if r.code != exitError || !strings.Contains(r.stderr, "colour") {
			t.Errorf("unknown field = exit %d, stderr %q; want an error naming it", r.code, r.stderr)
		}
	})
}

func TestListAndStream(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	var want []string
	for i := range 5 {
		title := fmt.Sprintf("Piece %d", i)
		want = append(want, title)
		createArticle(t, addr, "--title", title, "--author", "Ann Lee", "--tag", fmt.Sprintf("t%d", i%2),
			"--publish-time", time.Date(2024, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))
	}
	titlesOf := func(objs []map[string]any) []string {
		var out []string
		for _, o := range objs {
			out = append(out, fmt.Sprint(o["title"]))
		}
		return out
	}

	t.Run("Page", func(t *testing.T) {
		r := mustCLI(t, addr, "", "list", "--order-by", "publish_time", "--page-size", "2", "-o", "jsonl")
		if got := titlesOf(jsonLines(t, r.stdout)); !slices.Equal(got, want[:2]) {
			t.Errorf("list page = %q, want %q", got, want[:2])
		}
		m := regexp.MustCompile(`^next page: --page-token (\S+)\n$`).FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("stderr = %q, want the next page token", r.stderr)
		}
		r = mustCLI(t, addr, "", "list", "--order-by", "publish_time", "--page-size", "2", "--page-token", m[1], "-o", "jsonl")
		if got := titlesOf(jsonLines(t, r.stdout)); !slices.Equal(got, want[2:4]) {
			t.Errorf("second page = %q, want %q", got, want[2:4])
		}
	})
	t.Run("PageJSON", func(t *testing.T) {
		r := mustCLI(t, addr, "", "list", "--page-size", "2", "-o", "json")
		m := jsonObject(t, r.stdout)
		if arts, _ := m["articles"].([]any); len(arts) != 2 || m["nextPageToken"] == nil {
			t.Errorf("list -o json = %v, want the response with 2 articles and a token", m)
		}
	})
	t.Run("All", func(t *testing.T) {
		r := mustCLI(t, addr, "", "list", "--all", "--order-by", "publish_time", "--page-size", "2", "-o", "jsonl")
		if got := titlesOf(jsonLines(t, r.stdout)); !slices.Equal(got, want) {
			t.Errorf("list --all = %q, want %q", got, want)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		r := mustCLI(t, addr, "", "list", "--tag", "t1", "--published-after", "2024-01-03", "-o", "jsonl")
		if got := titlesOf(jsonLines(t, r.stdout)); !slices.Equal(got, []string{"Piece 3"}) {
			t.Errorf("filtered list = %q, want [Piece 3]", got)
		}
	})
	t.Run("Table", func(t *testing.T) {
		r := mustCLI(t, addr, "", "list", "--order-by", "title", "-o", "table")
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) != 6 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "Piece 0") {
			t.Errorf("list table = %q", r.stdout)
		}
	})
	t.Run("EmptyTable", func(t *testing.T) {
		r := mustCLI(t, addr, "", "list", "--tag", "none", "-o", "table")
		if r.stdout != "" || r.stderr != "no articles match\n" {
			t.Errorf("empty list: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		r = mustCLI(t, addr, "", "stream", "--tag", "none", "-o", "jsonl")
		if r.stdout != "" || r.stderr != "" {
			t.Errorf("empty stream -o jsonl: stdout %q, stderr %q; want nothing", r.stdout, r.stderr)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		r := mustCLI(t, addr, "", "stream", "--order-by", "publish_time", "-o", "jsonl")
		objs := jsonLines(t, r.stdout)
		if got := titlesOf(objs); !slices.Equal(got, want) {
			t.Fatalf("stream = %q, want %q", got, want)
		}
		r = mustCLI(t, addr, "", "stream", "--order-by", "publish_time", "--start-after", objs[2]["id"].(string), "-o", "text")
		if n := strings.Count(r.stdout, "Title: Piece"); n != 2 || !strings.Contains(r.stdout, "Title: Piece 3\n") {
			t.Errorf("stream --start-after -o text = %q, want pieces 3 and 4", r.stdout)
		}
	})
}

func TestSearch(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	createArticle(t, addr, "--title", "Silk road", "--body", "Caravans on the silk road.")
	createArticle(t, addr, "--title", "Sea lanes", "--body", "Ships and ports.")

	r := mustCLI(t, addr, "", "search", "silk", "-o", "jsonl")
	objs := jsonLines(t, r.stdout)
	if len(objs) != 1 {
		t.Fatalf("search silk = %q, want one result", r.stdout)
	}
	art, _ := objs[0]["article"].(map[string]any)
	if art["title"] != "Silk road" || objs[0]["score"] == nil || !strings.Contains(fmt.Sprint(objs[0]["snippet"]), "**") {
		t.Errorf("search result = %v", objs[0])
	}

	r = mustCLI(t, addr, "", "search", "silk", "-o", "table")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SCORE") || !strings.Contains(lines[1], "Silk road") {
		t.Errorf("search table = %q", r.stdout)
	}
	if r.stderr != "1 of 1 matching articles\n" {
		t.Errorf("search stderr = %q", r.stderr)
	}

	r = mustCLI(t, addr, "", "search", "-o", "json", "ships")
	if m := jsonObject(t, r.stdout); m["totalSize"] != float64(1) {
		t.Errorf("search -o json = %v", m)
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	a := createArticle(t, addr, "--title", "Before", "--tag", "w")
	mustCLI(t, addr, "", "delete", a["id"].(string))

	for _, tc := range []struct {
		name, format string
		extra        []string
	}{
		{"jsonl", "jsonl", nil},
		{"table", "table", nil},
		{"compressed", "jsonl", []string{"--compress"}},
	} {
		format := tc.format
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				args := append([]string{"--addr", addr, "watch", "--from", "1", "-o", format}, tc.extra...)
				done <- run(ctx, args, strings.NewReader(""), &stdout, &stderr)
			}()
			// Both events are replayed from revision 1; wait for them,
			// for at most the context's time.
			want := "DELETED"
			for !strings.Contains(stdout.String(), want) && ctx.Err() == nil {
				select {
				case <-time.After(10 * time.Millisecond):
				case code := <-done:
					t.Fatalf("watch ended early: exit %d, stderr %q", code, stderr.String())
				}
			}
			cancel() // what Ctrl-C does
			if code := <-done; code != exitOK {
				t.Errorf("interrupted watch: exit %d, stderr %q; want 0", code, stderr.String())
			}
			out := stdout.String()
			switch format {
			case "jsonl":
				var types []string
				for _, m := range jsonLines(t, out) {
					types = append(types, fmt.Sprint(m["type"]))
				}
				if len(types) < 3 || !slices.Equal(types[1:3], []string{"CREATED", "DELETED"}) {
					t.Errorf("watch events = %q, want PROGRESS, CREATED, DELETED", types)
				}
			case "table":
				lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
				if len(lines) != 3 || !strings.HasPrefix(lines[0], "REVISION") ||
					!strings.Contains(lines[1], "CREATED") || !strings.Contains(lines[1], "Before") || !strings.Contains(lines[2], "DELETED") {
					t.Errorf("watch table = %q", out)
				}
			}
		})
	}
}

// TestDefaults runs without --addr and -o: the address comes from
// ARTICLES_ADDR and, stdout not being a terminal, the output is JSON Lines.
// It sets the environment, so it cannot run in parallel.
func TestDefaults(t *testing.T) {
	addr := startServer(t)
	t.Setenv("ARTICLES_ADDR", addr)
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, []string{"create", "--title", "Env"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("create: exit %d, stderr %q", code, stderr.String())
	}
	if objs := jsonLines(t, stdout.String()); len(objs) != 1 || objs[0]["title"] != "Env" {
		t.Errorf("default output = %q, want one JSON line", stdout.String())
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly ten", 11, "exactly ten"},
		{"a title that is far too long", 10, "a title t…"}, {"cut at a space", 5, "cut…"},
		{"Ünïcödé letters everywhere", 8, "Ünïcödé…"},
		{"tabs\tand\nnewlines", 30, "tabs and newlines"},
	} {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	tokens, err := auth.Parse(strings.NewReader("read r3ad\nwrite wr1te\n"))
	if err != nil {
		t.Fatalf("auth.Parse: %v", err)
	}
	addr := startServer(t,
		grpc.ChainUnaryInterceptor(tokens.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(tokens.StreamServerInterceptor()))
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{name: "NoToken", args: []string{"list"}, code: exitError, wantErr: "articles: UNAUTHENTICATED: "},
		{name: "WrongToken", args: []string{"--token", "nope", "list"}, code: exitError, wantErr: "articles: UNAUTHENTICATED: "},
		{name: "ReadToken", args: []string{"--token", "r3ad", "list"}, code: exitOK},
		{name: "ReadTokenWrite", args: []string{"--token", "r3ad", "create", "--title", "x"}, code: exitError, wantErr: "articles: PERMISSION_DENIED: "},
		{name: "WriteToken", args: []string{"--token", "wr1te", "create", "--title", "x"}, code: exitOK},
		{name: "WriteTokenStream", args: []string{"--token", "wr1te", "stream"}, code: exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, addr, "", tt.args...)
			if r.code != tt.code || !strings.HasPrefix(r.stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr starting %q", r.code, r.stderr, tt.code, tt.wantErr)
			}
		})
	}
	t.Run("PlaintextToRemote", func(t *testing.T) {
		t.Parallel()
		r := cli(t, "192.0.2.1:50051", "", "--token", "wr1te", "list")
		if r.code != exitError || !strings.Contains(r.stderr, "plaintext") {
			t.Errorf("token over plaintext to a remote address: exit %d, stderr %q; want a refusal", r.code, r.stderr)
		}
	})
}

func TestErrorLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Status", status.Error(codes.NotFound, "article not found: slug \"x\""), `NOT_FOUND: article not found: slug "x"`},
		{"Unknown", status.Error(codes.Unknown, "odd"), "UNKNOWN: odd"},
		{"Multiline", status.Error(codes.InvalidArgument, "bad request:\n  title: required"), "INVALID_ARGUMENT: bad request: title: required"},
		{"Cancelled", fmt.Errorf("reading: %w", context.Canceled), "CANCELLED: reading: context canceled"},
		{"Plain", errors.New("open x: no such file"), "open x: no such file"},
		{"UnknownCode", status.Error(codes.Code(42), "m"), "CODE_42: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := errorLine(tt.err); got != tt.want {
				t.Errorf("errorLine = %q, want %q", got, tt.want)
			}
		})
	}
}
