package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/client"
	"github.com/seed9c1868aa/articles/internal/buildinfo"
)

// Exit statuses of run.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// defaultAddr is where the server listens unless told otherwise; it matches
// articlesd's default --listen.
const defaultAddr = "localhost:50051"

// usageError marks an error in how the command was called (exit status 2),
// as opposed to one from the server or the files it read (exit status 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// app is the state shared by the subcommands of one run: the streams, the
// global flags and the client they dial.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	addr string
	// target is addr parsed, set by setup.
	target  target
	timeout time.Duration
	output  string
	token   string
	useTLS  bool
	caFile  string
	// certFile and keyFile are the client certificate for mTLS.
	certFile, keyFile string

	// out prints results in the chosen format; set before any RunE.
	out *printer
}

// run executes the command line args and returns the exit status. It is
// main without the process: tests call it with their own streams.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	// Cobra validates flags and arguments before the persistent pre-run
	// hook; an error before it ran is the caller's mistake (exit 2).
	started := false
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		started = true
		return a.setup(cmd)
	}

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if !started || errors.As(err, &ue) {
		fmt.Fprintf(stderr, "articles: %s\n", oneLine(err.Error()))
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(stderr, "articles: %s\n", errorLine(connectionError(err, a.target.dial)))
	return exitError
}

// rootCommand builds the command tree.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "articles",
		Short: "Command-line client of the Articles service",
		Long: `articles talks to an Articles server (articlesd) over gRPC.

The server address is --addr, else $ARTICLES_ADDR, else ` + defaultAddr + `:
host[:port] (port ` + defaultPort + `), http://host[:port] (plaintext),
https://host[:port] (TLS, port 443), a comma-separated list of servers, or a
gRPC target (dns:///host:port, unix:///path). Other schemes are usage errors.
Output (-o) is a table on a terminal and JSON Lines otherwise:
  table  aligned columns for people
  json   one indented protojson document: a page is its whole response
         message; stream, list --all and watch print one array
  jsonl  one compact protojson object per line, for jq
  yaml   the json document as YAML
  text   every field, one "Name: value" per line, records separated by blank lines

Errors print one line, "articles: CODE: message" with the gRPC status
code; the exit status is 0 on success, 1 on an error and 2 on a usage error.`,
		Example: `  articles list --tag economy
  articles get 01JD3ZK6Q9W1T0M4B6N8P2R5S7 -o text
  articles import seeds.txt
  articles list -o jsonl | jq -r .title`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// --version prints the same line as the version subcommand.
		Version: buildinfo.Read().String("articles"),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	addr := os.Getenv("ARTICLES_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.addr, "addr", addr, "server address: host[:port] (port "+defaultPort+"), http://host[:port], https://host[:port] for TLS (port 443), or a comma-separated list to balance over (env ARTICLES_ADDR)")
	pf.DurationVar(&a.timeout, "timeout", 10*time.Second, "deadline of each call (streams and imports have none)")
	pf.StringVarP(&a.output, "output", "o", "", "output format: table, json, jsonl, yaml or text (default table on a terminal, else jsonl)")
	pf.StringVar(&a.token, "token", os.Getenv("ARTICLES_TOKEN"), "bearer token sent on every call (env ARTICLES_TOKEN, which keeps it out of ps)")
	pf.BoolVar(&a.useTLS, "tls", false, "connect over TLS, trusting the system's roots (needed to send a token to a non-loopback address)")
	pf.StringVar(&a.caFile, "ca-file", "", "connect over TLS, trusting the CA certificates in this PEM file")
	pf.StringVar(&a.certFile, "cert", "", "client certificate PEM file for servers that require one (mTLS, with --key; implies TLS)")
	pf.StringVar(&a.keyFile, "key", "", "private key PEM file of --cert")

	root.AddCommand(
		a.getCommand(),
		a.listCommand(),
		a.streamCommand(),
		a.createCommand(),
		a.updateCommand(),
		a.deleteCommand(),
		a.importCommand(),
		a.backupCommand(),
		a.searchCommand(),
		a.watchCommand(),
		a.benchCommand(),
		a.versionCommand(),
	)
	// Cobra's completion command (bash, zsh, fish, powershell) is made
	// here rather than lazily, so that an unknown shell is a usage error
	// instead of a help page with exit 0. It keeps the writer set before.
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.InitDefaultCompletionCmd()
	if comp, _, err := root.Find([]string{"completion"}); err == nil && comp != root {
		comp.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	return root
}

// setup checks the global flags once they are parsed.
func (a *app) setup(cmd *cobra.Command) error {
	format := a.output
	if format == "" {
		format = "jsonl"
		if isTerminal(a.stdout) {
			format = "table"
		}
	}
	switch format {
	case "table", "json", "jsonl", "yaml", "text":
	default:
		return usagef("unknown output format %q: want table, json, jsonl, yaml or text", a.output)
	}
	if a.timeout < 0 {
		return usagef("--timeout must not be negative")
	}
	t, err := parseAddr(a.addr)
	if err != nil && !offline(cmd) {
		return err
	}
	if t.plaintext && (a.useTLS || a.caFile != "" || a.certFile != "") {
		return usagef("--addr %s says plaintext, which contradicts --tls, --ca-file and --cert: use https:// or host:port", a.addr)
	}
	a.target = t
	if t.tls {
		a.useTLS = true
	}
	if (a.certFile == "") != (a.keyFile == "") {
		return usagef("--cert and --key must be given together")
	}
	a.out = &printer{w: a.stdout, format: format}
	return nil
}

// dial connects to the server; extra options go last, so they win. The
// caller closes the client.
func (a *app) dial(ctx context.Context, extra ...client.Option) (*client.Client, error) {
	opts := []client.Option{client.WithTimeout(a.timeout)}
	switch {
	case a.caFile != "":
		pem, err := os.ReadFile(a.caFile)
		if err != nil {
			return nil, err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificates in it", a.caFile)
		}
		opts = append(opts, client.WithTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	case a.useTLS:
		opts = append(opts, client.WithTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	if a.certFile != "" {
		cert, err := tls.LoadX509KeyPair(a.certFile, a.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		opts = append(opts, client.WithClientCertificate(cert))
	}
	if a.token != "" {
		opts = append(opts, client.WithToken(a.token))
	}
	if err := checkHosts(ctx, a.target.hosts); err != nil {
		return nil, err
	}
	return client.New(ctx, a.target.dial, append(opts, extra...)...)
}

// offline reports whether cmd never contacts the server (version, shell
// completion), so that a bad ARTICLES_ADDR does not stop it.
func offline(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		switch c.Name() {
		case "version", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return true
		}
	}
	return false
}

// isTerminal reports whether w is a terminal, for choosing the default
// output format and whether to show progress.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// errorLine formats err for the one-line error report: "CODE: message"
// for a gRPC status, the error text otherwise.
func errorLine(err error) string {
	if st, ok := status.FromError(err); ok {
		return codeName(st.Code()) + ": " + oneLine(st.Message())
	}
	if errors.Is(err, context.Canceled) {
		return codeName(codes.Canceled) + ": " + oneLine(err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codeName(codes.DeadlineExceeded) + ": " + oneLine(err.Error())
	}
	return oneLine(err.Error())
}

// codeName is the canonical upper-case name of a status code, as in
// google.rpc.Code ("NOT_FOUND"); codes.Code.String gives Go's CamelCase.
func codeName(c codes.Code) string {
	if _, known := rpccode.Code_name[int32(c)]; !known {
		return fmt.Sprintf("CODE_%d", uint32(c))
	}
	return rpccode.Code(c).String()
}

// oneLine folds a message onto one line, so that an error report is always
// exactly one line whatever the server put in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
