package main_test

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestVersion checks that both binaries print their build on one line:
// program, module version, VCS revision and Go version, as "go version -m"
// reads them from the binary. (The revision is stamped only by builds in a
// git checkout whose .git is a directory, without -buildvcs=false.)
func TestVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		program string
		bin     string
		run     func() (int, string, string)
	}{
		{"Daemon", "articlesd", bin, func() (int, string, string) { return runCmd(t, nil, "--version") }},
		{"CLI", "articles", cliBin, func() (int, string, string) { return cli(t, "127.0.0.1:1", "", "version") }},
		{"CLIFlag", "articles", cliBin, func() (int, string, string) { return cli(t, "127.0.0.1:1", "", "--version") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := tt.run()
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, tt.program+" ") {
				t.Fatalf("stdout = %q, want one line starting %q", stdout, tt.program+" ")
			}
			if !strings.Contains(stdout, " "+runtime.Version()+" ") {
				t.Errorf("stdout = %q, want the Go version %s", stdout, runtime.Version())
			}
			out, err := exec.Command("go", "version", "-m", tt.bin).Output()
			if err != nil {
				t.Fatalf("go version -m: %v", err)
			}
			version, revision := "", "unknown"
			for line := range strings.Lines(string(out)) {
				f := strings.Fields(line)
				switch {
				case len(f) >= 3 && f[0] == "mod":
					version = f[2]
				case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
					revision = strings.TrimPrefix(f[1], "vcs.revision=")
				}
			}
			if version == "" || !strings.HasPrefix(stdout, tt.program+" "+version+" ") {
				t.Errorf("stdout = %q, want module version %q", stdout, version)
			}
			if !strings.Contains(stdout, "(revision "+revision) {
				t.Errorf("stdout = %q, want revision %s", stdout, revision)
			}
		})
	}
}
