package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	t.Parallel()
	t.Run("Bar", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		p := newProgressTo(&out, true, 1000, time.Hour, time.Now)
		p.add(500)
		time.Sleep(150 * time.Millisecond) // past the bar's redraw throttle
		p.add(250)
		got := out.String()
		for _, want := range []string{"importing", "75%", "750/1000", "articles/s"} {
			if !strings.Contains(got, want) {
				t.Errorf("bar %q lacks %q", got, want)
			}
		}
		if !regexp.MustCompile(`\[\d+s:\d+s\]`).MatchString(got) {
			t.Errorf("bar %q lacks the elapsed and remaining time", got)
		}
		out.Reset()
		p.finish()
		if strings.Contains(out.String(), "importing") || !strings.Contains(out.String(), "\r") {
			t.Errorf("finish wrote %q, want the line cleared", out.String())
		}
	})
	t.Run("Plain", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		clock := time.Unix(0, 0)
		now := func() time.Time { return clock }
		p := newProgressTo(&out, false, 1000, 10*time.Second, now)
		clock = clock.Add(5 * time.Second)
		p.add(100) // too soon for a line
		clock = clock.Add(5 * time.Second)
		p.add(100)
		clock = clock.Add(3 * time.Second)
		p.add(100) // too soon again
		clock = clock.Add(20 * time.Second)
		p.add(700) // done: the summary follows, no line
		p.finish()
		want := "import: 200 of 1000 articles acknowledged (20%), 20/s, 40s left\n"
		if out.String() != want {
			t.Errorf("plain progress = %q, want %q", out.String(), want)
		}
	})
}
