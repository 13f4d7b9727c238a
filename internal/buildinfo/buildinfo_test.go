package buildinfo_test

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/seed9c1868aa/articles/internal/buildinfo"
)

func TestString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{
			name: "Stamped",
			bi: debug.BuildInfo{
				GoVersion: "go1.26.0",
				Main:      debug.Module{Path: "github.com/seed9c1868aa/articles", Version: "v1.2.0"},
				Settings: []debug.BuildSetting{
					{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
					{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
					{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
					{Key: "vcs.modified", Value: "false"},
				},
			},
			want: "articles v1.2.0 (revision 0123456789abcdef0123456789abcdef01234567, 2026-01-02T03:04:05Z) go1.26.0 linux/arm64",
		},
		{
			name: "Modified",
			bi: debug.BuildInfo{
				GoVersion: "go1.26.0",
				Main:      debug.Module{Version: "v0.0.0-20260102030405-0123456789ab+dirty"},
				Settings: []debug.BuildSetting{
					{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"},
					{Key: "vcs.revision", Value: "0123456789ab"},
					{Key: "vcs.modified", Value: "true"},
				},
			},
			want: "articles v0.0.0-20260102030405-0123456789ab+dirty (revision 0123456789ab, modified) go1.26.0 linux/amd64",
		},
		{
			name: "NoVCS",
			bi:   debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			want: "articles (devel) (revision unknown) go1.26.0 " + runtime.GOOS + "/" + runtime.GOARCH,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := buildinfo.FromBuildInfo(&tt.bi).String("articles"); got != tt.want {
				t.Errorf("String = %q\nwant     %q", got, tt.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	info := buildinfo.Read()
	if info.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want the running toolchain %q", info.GoVersion, runtime.Version())
	}
	if got := info.String("x"); !strings.HasPrefix(got, "x ") || strings.Contains(got, "\n") {
		t.Errorf("String = %q, want one line starting with the program", got)
	}
}

func ExampleInfo_String() {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/seed9c1868aa/articles", Version: "v1.2.0"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		},
	}
	fmt.Println(buildinfo.FromBuildInfo(bi).String("articlesd"))
	// Output: articlesd v1.2.0 (revision 0123456789abcdef0123456789abcdef01234567) go1.26.0 linux/amd64
}
