// Package buildinfo reports what a binary was built from: the module
// version, the VCS revision and the Go toolchain, as recorded by the Go
// linker and read with runtime/debug.ReadBuildInfo.
//
// Both binaries (articles version, articlesd --version) print the same
// line, so a bug report names one build exactly. It depends on nothing
// but the standard library.
//
// # Caveats
//
// The VCS fields are stamped only by "go build" (and "go install") of a
// main package inside a checkout with the VCS tool available; test
// binaries and builds with -buildvcs=false have none, and Read reports
// them as empty. A build from a checkout without a tag has a
// pseudo-version (v0.0.0-date-revision), "+dirty" when files were modified.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what a binary knows about its own build. Empty fields are unknown.
type Info struct {
	// Path is the main module's path.
	Path string
	// Version is the main module's version: a tag, a pseudo-version, or
	// "(devel)".
	Version string
	// Revision is the VCS commit the binary was built from.
	Revision string
	// Time is the commit time of Revision, RFC 3339.
	Time string
	// Modified reports whether the checkout had uncommitted changes.
	Modified bool
	// GoVersion is the toolchain that built the binary ("go1.26.0").
	GoVersion string
	// Platform is GOOS/GOARCH of the binary.
	Platform string
}

// Read returns the running binary's build information. Without any (a
// binary built without module support), only GoVersion and Platform are
// set.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts an Info from bi, which debug.ReadBuildInfo or
// debug.ParseBuildInfo returned.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{
		Path:      bi.Main.Path,
		Version:   bi.Main.Version,
		GoVersion: bi.GoVersion,
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos == "" || goarch == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	info.Platform = goos + "/" + goarch
	return info
}

// String formats the build on one line for program, e.g.
//
//	articles v1.2.0 (revision 0123abcd..., 2026-01-02T03:04:05Z) go1.26.0 linux/amd64
//
// Unknown parts are written as "unknown" rather than left out, so the
// line always has the same shape.
func (i Info) String(program string) string {
	version := i.Version
	if version == "" {
		version = "unknown"
	}
	var rev strings.Builder
	rev.WriteString("revision ")
	if i.Revision == "" {
		rev.WriteString("unknown")
	} else {
		rev.WriteString(i.Revision)
	}
	if i.Time != "" {
		rev.WriteString(", " + i.Time)
	}
	if i.Modified {
		rev.WriteString(", modified")
	}
	goVersion := i.GoVersion
	if goVersion == "" {
		goVersion = "unknown"
	}
	return fmt.Sprintf("%s %s (%s) %s %s", program, version, rev.String(), goVersion, i.Platform)
}
