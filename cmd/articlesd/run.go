package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/seed9c1868aa/articles/internal/buildinfo"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// The bbolt store is the backend this command wires in; it must keep
// satisfying the interface the server declares.
var _ server.Store = (*store.DB)(nil)

// envPrefix starts the name of every flag's environment fallback.
const envPrefix = "ARTICLES_"

// config is what the flags and their environment fallbacks set.
type config struct {
	listen           string
	db               string
	noSeed           bool
	maxRecvBytes     int
	maxBodyBytes     int
	logLevel         string
	accessLog        bool
	logFormat        string
	history          int64
	mmapSize         int
	progressInterval time.Duration
	watchRate        int
	gracePeriod      time.Duration
	metricsListen    string
	pprof            bool

	// Full-text index (search.go).
	searchIndex      string
	searchCheckpoint time.Duration

	// Security (security.go).
	tlsCert, tlsKey     string
	clientCA            string
	tokensFile          string
	insecureAllowTokens bool
	noReflection        bool

	// Connection and call limits (limits.go).
	maxStreams          int
	maxConns            int
	idleTimeout         time.Duration
	defaultTimeout      time.Duration
	keepaliveMinTime    time.Duration
	keepaliveNoStreamOK bool

	// HTTP listener (http.go).
	httpListen  string
	corsOrigins []string

	// Storage backend (etcd.go).
	etcd etcdConfig
}

// usageError marks an error in how the command was invoked (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// run is articlesd with its process boundaries passed in: it parses args,
// reads the environment for fallbacks, and serves until ctx ends or SIGINT
// or SIGTERM arrives. Help goes to stdout, logs to stderr. The returned
// error is meant to be printed as one line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	root := &cobra.Command{
		Use:   "articlesd",
		Short: "Serve the Articles gRPC API over a bbolt database",
		Long: `articlesd serves articles.v1.ArticleService, gRPC health checks and server
reflection over a bbolt database file, or, with --store etcd, over an etcd
cluster (--etcd-endpoints) that several articlesd processes may share.

On a database that was never written it first loads the embedded seed
articles (unless --no-seed). Once listening it logs msg=listening with the
bound address. SIGINT or SIGTERM stops it gracefully: open streams end, in-flight
calls get --grace-period to finish, the database is closed, and it exits 0.

Without --tls-cert and --tls-key it serves plaintext (its listening line says
tls=false); --client-ca also requires client certificates (mTLS). --tokens
requires bearer tokens on every call but health checks, and is refused on a
plaintext listener that is not loopback unless --insecure-allow-tokens.
--max-streams, --max-conns, --idle-timeout, --keepalive-min-time and
--default-timeout bound what clients can hold.

--http-listen also serves the API over HTTP: REST (GET /v1/articles, ...),
Connect (JSON and binary) and gRPC-Web, with the same tokens and limits;
--cors-origin allows browser calls from other origins.

Every flag can also be set in the environment as ARTICLES_<FLAG>, upper case
with '-' as '_' (ARTICLES_LISTEN, ARTICLES_MAX_BODY_BYTES, ...); a flag given
on the command line wins.`,
		Args:          noArgs,
		SilenceErrors: true, // main prints the one-line error
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return err
			}
			return cfg.check()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), cfg, stderr)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&cfg.db, "db", "./articles.db", "database `file` (created with mode 0600 when missing)")
	pf.StringVar(&cfg.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	pf.StringVar(&cfg.logFormat, "log-format", "text", "log `format`: text (logfmt) or json")
	f := root.Flags()
	f.StringVar(&cfg.listen, "listen", "localhost:50051", "TCP `address` to serve on (port 0 picks a free port)")
	f.BoolVar(&cfg.accessLog, "access-log", false, "log every gRPC call at INFO (without it, calls are logged at DEBUG, failures at WARN or ERROR)")
	f.BoolVar(&cfg.noSeed, "no-seed", false, "do not load the embedded seed articles into an empty database")
	f.Var(newSizeFlag(&cfg.maxRecvBytes, 4<<20), "max-recv-bytes", "largest gRPC message accepted (a `size`: bytes, or with a unit: 64KiB, 4MiB, 1MB)")
	f.Var(newSizeFlag(&cfg.maxBodyBytes, server.DefaultMaxBodyBytes), "max-body-bytes", "largest article body accepted (a `size`)")
	f.Int64Var(&cfg.history, "history", 100_000, "how many recent `revisions` the change log keeps for WatchArticles")
	f.Var(newSizeFlag(&cfg.mmapSize, store.DefaultInitialMmapSize), "initial-mmap-size", "`size` of the database file mapped at start (address space, not memory): below it the file grows without remapping, which waits for reads, and below half of it a commit syncs only the write-ahead log (0: bbolt's default, doubling from 32 KiB)")
	f.DurationVar(&cfg.progressInterval, "progress-interval", server.DefaultProgressInterval, "how often idle watch streams get a PROGRESS event")
	f.Var(newSizeFlag(&cfg.watchRate, 0), "watch-rate", "cap on the bytes per second (a `size`) all watch streams together send (0: no cap); slower watchers catch up from the log")
	f.DurationVar(&cfg.gracePeriod, "grace-period", 10*time.Second, "how long in-flight calls may run on at shutdown")
	f.StringVar(&cfg.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://`ADDR`/metrics (empty: no metrics listener)")
	f.BoolVar(&cfg.pprof, "pprof", false, "also serve net/http/pprof under /debug/pprof/ on the --metrics-listen listener")
	addSecurityFlags(f, &cfg)
	addLimitFlags(f, &cfg)
	addHTTPFlags(f, &cfg)
	addEtcdFlags(f, &cfg.etcd)
	addSearchFlags(pf, &cfg)

	reindex := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the search index of the database, then exit",
		Long: `reindex rebuilds the full-text search index (--search-index) from the stored
articles and exits. The index file must not be open in a running articlesd.
A running articlesd rebuilds its index by itself when the file is missing or
damaged, so deleting the file while articlesd is stopped does the same.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReindex(cmd.Context(), cfg, stderr)
		},
	}
	root.AddCommand(reindex)
	root.CompletionOptions.DisableDefaultCmd = true // a daemon needs no shell completion
	// --version prints the build (module version, VCS revision, Go) and exits.
	root.Version = buildinfo.Read().String("articlesd")
	root.SetVersionTemplate("{{.Version}}\n")

	for _, c := range []*cobra.Command{root, reindex} {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	documentEnv(root.PersistentFlags())
	documentEnv(root.Flags())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q for %q", args[0], cmd.CommandPath())}
	}
	return nil
}

// envName returns the environment fallback of the flag named name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// documentEnv appends each flag's environment fallback to its help text.
func documentEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		f.Usage += " (env " + envName(f.Name) + ")"
	})
}

// applyEnv sets each flag not given on the command line from its
// environment fallback, when that is set and not empty.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := envName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = usageError{fmt.Errorf("invalid %s=%q: %v", name, v, e)}
		}
	})
	return err
}

// check validates the settings that flag parsing alone cannot.
func (c config) check() error {
	if _, err := parseLevel(c.logLevel); err != nil {
		return usageError{err}
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return usageError{fmt.Errorf("invalid log format %q: want text or json", c.logFormat)}
	}
	if c.db == "" {
		return usageError{errors.New("--db must name a file")}
	}
	if err := c.etcd.check(); err != nil {
		return err
	}
	if c.searchCheckpoint <= 0 {
		return usageError{errors.New("--search-checkpoint-interval must be positive")}
	}
	for _, p := range []struct {
		name string
		v    int64
	}{
		{"--max-recv-bytes", int64(c.maxRecvBytes)},
		{"--max-body-bytes", int64(c.maxBodyBytes)},
		{"--history", c.history},
		{"--progress-interval", int64(c.progressInterval)},
		{"--grace-period", int64(c.gracePeriod)},
	} {
		if p.v <= 0 {
			return usageError{fmt.Errorf("%s must be positive", p.name)}
		}
	}
	if c.mmapSize < 0 {
		return usageError{fmt.Errorf("--initial-mmap-size must not be negative")}
	}
	if c.watchRate < 0 {
		return usageError{fmt.Errorf("--watch-rate must not be negative")}
	}
	if err := c.checkSecurity(); err != nil {
		return usageError{err}
	}
	if err := c.checkLimits(); err != nil {
		return usageError{err}
	}
	if err := c.checkHTTP(); err != nil {
		return usageError{err}
	}
	// A body at the limit must still fit in one message with the rest of
	// the article around it.
	if c.maxRecvBytes <= c.maxBodyBytes {
		return usageError{fmt.Errorf("--max-recv-bytes (%d) must be larger than --max-body-bytes (%d)", c.maxRecvBytes, c.maxBodyBytes)}
	}
	return nil
}

// parseLevel parses one of the four level names the flag documents.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("invalid log level %q: want debug, info, warn or error", s)
}

// newLogger returns the logger the settings ask for, writing to w.
func (c config) newLogger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.logLevel) // checked by check
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationText}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationText writes durations as text ("10s", "1.5ms"), as the text
// handler already does, rather than the JSON handler's nanosecond count.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
