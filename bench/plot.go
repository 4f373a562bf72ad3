package main

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// plot draws the ratios as an SVG bar chart: one bar per scenario (green
// when its target is met, red when not, blue without a target), the target
// as a black tick across the bar, and the floor (1.0) as a dashed line.
func plot(bars []bar, when time.Time) []byte {
	const (
		width, height          = 820, 460
		left, right, top, foot = 60, 20, 50, 130
	)
	top0 := 1.1
	for _, b := range bars {
		top0 = math.Max(top0, b.ratio*1.08)
	}
	plotH := float64(height - top - foot)
	y := func(v float64) float64 { return float64(top) + plotH*(1-v/top0) }
	slot := float64(width-left-right) / float64(len(bars))
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="24" font-size="16" font-weight="bold">tokend: RPS as a ratio to the floor (gRPC health Check on tokend), median of runs</text>`+"\n", left)
	p(`<text x="%d" y="40" fill="#555">make bench, %s; black ticks: targets (issue 8)</text>`+"\n", left, when.UTC().Format("2006-01-02"))
	for v := 0.0; v <= top0+1e-9; v += 0.2 {
		p(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, y(v), y(v))
		p(`<text x="%d" y="%.1f" text-anchor="end" fill="#555">%.1f</text>`+"\n", left-6, y(v)+4, v)
	}
	p(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#333" stroke-dasharray="6 4"/>`+"\n", left, width-right, y(1), y(1))
	p(`<text x="%d" y="%.1f" text-anchor="end" fill="#333">floor</text>`+"\n", width-right, y(1)-4)
	for i, b := range bars {
		x := float64(left) + slot*float64(i) + slot*0.18
		w := slot * 0.64
		color := "#4a78b5"
		if b.target > 0 {
			color = "#3a9d5d"
			if b.ratio < b.target {
				color = "#c8453c"
			}
		}
		p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y(b.ratio), w, y(0)-y(b.ratio), color)
		p(`<text x="%.1f" y="%.1f" text-anchor="middle">%.2f</text>`+"\n", x+w/2, y(b.ratio)-5, b.ratio)
		if b.target > 0 {
			p(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black" stroke-width="3"/>`+"\n", x-4, x+w+4, y(b.target), y(b.target))
			p(`<text x="%.1f" y="%.1f" font-size="10" fill="#222">≥ %.2f</text>`+"\n", x+w+5, y(b.target)+3, b.target)
		}
		cx, cy := x+w/2, y(0)+10
		p(`<text x="%.1f" y="%.1f" text-anchor="end" transform="rotate(-35 %.1f %.1f)">%s</text>`+"\n", cx, cy, cx, cy, html.EscapeString(b.label))
	}
	p(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#333"/>`+"\n", left, width-right, y(0), y(0))
	p("</svg>\n")
	return []byte(s.String())
}
