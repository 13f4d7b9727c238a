package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sizes on flags: an integer count of bytes with an optional unit, binary
// (KiB, MiB, GiB, TiB: powers of 1024) or decimal (kB, MB, GB, TB: powers
// of 1000), case-insensitive, optionally with one space before the unit:
// "4194304", "64KiB", "2MiB", "2 MB", "512B".

// sizeUnits maps each unit, in lower case, to its multiplier.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}

// errSizeSyntax is parseSize's error for text that is not a size.
var errSizeSyntax = errors.New("want a whole number of bytes with an optional unit: 65536, 64KiB, 2MiB, 1GB")

// parseSize parses a size in bytes. It fails on negative numbers,
// fractions, unknown units and sizes that do not fit in an int64.
func parseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errSizeSyntax
	}
	unit := s[i:]
	if strings.HasPrefix(unit, " ") {
		unit = unit[1:]
		if unit == "" {
			return 0, errSizeSyntax
		}
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q: %w", unit, errSizeSyntax)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%s is too large", s)
	}
	return n * mult, nil
}

// formatSize writes n in the largest binary unit that divides it exactly,
// so that parseSize(formatSize(n)) == n.
func formatSize(n int64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// sizeFlag is a pflag.Value of an int byte count that accepts units.
type sizeFlag struct{ p *int }

// newSizeFlag sets *p to def and returns a flag value that sets it.
func newSizeFlag(p *int, def int) sizeFlag {
	*p = def
	return sizeFlag{p}
}

func (f sizeFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return formatSize(int64(*f.p))
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if n > math.MaxInt {
		return fmt.Errorf("%s is too large", s)
	}
	*f.p = int(n)
	return nil
}

func (sizeFlag) Type() string { return "size" }
