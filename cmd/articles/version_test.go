package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := mustCLI(t, "127.0.0.1:1", "", args...)
		if !strings.HasPrefix(r.stdout, "articles ") || strings.Count(r.stdout, "\n") != 1 ||
			!strings.Contains(r.stdout, "(revision ") || !strings.Contains(r.stdout, " "+runtime.Version()+" ") {
			t.Errorf("articles %s = %q, want one line with the version, revision and %s", args[0], r.stdout, runtime.Version())
		}
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ shell, want string }{
		{"bash", "__start_articles"},
		{"zsh", "#compdef articles"},
		{"fish", "complete -c articles"},
	} {
		t.Run(tt.shell, func(t *testing.T) {
			t.Parallel()
			r := mustCLI(t, "127.0.0.1:1", "", "completion", tt.shell)
			if !strings.Contains(r.stdout, tt.want) {
				t.Errorf("completion %s lacks %q:\n%.300s", tt.shell, tt.want, r.stdout)
			}
		})
	}
	// The completion script asks the binary itself for candidates.
	r := mustCLI(t, "127.0.0.1:1", "", "__complete", "wat")
	if !strings.HasPrefix(r.stdout, "watch\t") {
		t.Errorf("__complete wat = %q, want watch", r.stdout)
	}
	if r := cli(t, "127.0.0.1:1", "", "completion", "tcsh"); r.code != exitUsage {
		t.Errorf("completion tcsh: exit %d, stderr %q; want 2", r.code, r.stderr)
	}
}
