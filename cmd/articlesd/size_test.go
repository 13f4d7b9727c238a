package main

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "4194304", want: 4 << 20},
		{in: "512B", want: 512},
		{in: "64KiB", want: 64 << 10},
		{in: "64kib", want: 64 << 10},
		{in: "2MiB", want: 2 << 20},
		{in: "2 MiB", want: 2 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "3TiB", want: 3 << 40},
		{in: "64kB", want: 64_000},
		{in: "2MB", want: 2_000_000},
		{in: "1GB", want: 1_000_000_000},
		{in: "8388607TiB", want: 8388607 << 40},
		{in: "8388608TiB", wantErr: true}, // 2^63
		{in: "9223372036854775808", wantErr: true},
		{in: "", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1.5MiB", wantErr: true},
		{in: "2 ", wantErr: true},
		{in: "2  MiB", wantErr: true},
		{in: " 2MiB", wantErr: true},
		{in: "2Mi", wantErr: true},
		{in: "2PiB", wantErr: true},
		{in: "0x10", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseSize(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0"}, {1, "1"}, {1000, "1000"}, {1024, "1KiB"}, {4 << 20, "4MiB"}, {1<<20 + 1, "1048577"}, {5 << 40, "5TiB"}} {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestSizeFlagHelp(t *testing.T) {
	t.Parallel()
	var v int
	f := newSizeFlag(&v, 4<<20)
	if v != 4<<20 || f.String() != "4MiB" {
		t.Fatalf("default: %d %q", v, f.String())
	}
	if err := f.Set("64KiB"); err != nil || v != 64<<10 {
		t.Fatalf("Set(64KiB): %v, %d", err, v)
	}
	if err := f.Set("2 MiB x"); err == nil || !strings.Contains(err.Error(), "unit") {
		t.Fatalf("Set(bad) error = %v", err)
	}
}

// FuzzParseSize checks that parseSize never panics, never returns a
// negative size, and that what it accepts formats back to the same size.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "64KiB", "2 MiB", "1GB", "9223372036854775807", "8388608TiB", "-1", "1.5k", "2Mi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		back, err := parseSize(formatSize(n))
		if err != nil || back != n {
			t.Fatalf("parseSize(formatSize(%d)) = %d, %v", n, back, err)
		}
	})
}
