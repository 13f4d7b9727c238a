package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// plainProgressEvery is how often an import not on a terminal prints a
// progress line: rarely enough for a log, often enough to show life.
const plainProgressEvery = 10 * time.Second

// progress shows how many of an import's articles the server has
// acknowledged: a bar redrawn in place on a terminal, else a plain line
// at most every plainProgressEvery. Its methods are called from one
// goroutine.
type progress struct {
	// bar draws on a terminal; nil otherwise.
	bar *progressbar.ProgressBar

	// The plain lines' state.
	w           io.Writer
	total, done int
	start, last time.Time
	every       time.Duration
	now         func() time.Time
}

// newProgress makes the progress display of an import of total articles
// on the command's stderr.
func (a *app) newProgress(total int) *progress {
	return newProgressTo(a.stderr, isTerminal(a.stderr), total, plainProgressEvery, time.Now)
}

// newProgressTo makes a progress display on w: a bar when terminal, else
// plain lines every every.
func newProgressTo(w io.Writer, terminal bool, total int, every time.Duration, now func() time.Time) *progress {
	p := &progress{w: w, total: total, every: every, now: now}
	p.start, p.last = now(), now()
	if terminal && total > 0 {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("articles"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// add counts n more acknowledged articles.
func (p *progress) add(n int) {
	p.done += n
	if p.bar != nil {
		_ = p.bar.Add(n)
		return
	}
	now := p.now()
	if now.Sub(p.last) < p.every || p.done >= p.total {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(p.done) / elapsed
	left := time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(p.w, "import: %d of %d articles acknowledged (%d%%), %.0f/s, %v left\n",
		p.done, p.total, p.done*100/p.total, rate, left)
}

// finish ends the display: the bar is cleared, as the summary or the
// error follows.
func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
}
