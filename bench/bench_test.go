package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteSection(t *testing.T) {
	t.Parallel()
	section := beginMarker + "\nnew\n" + endMarker + "\n"
	tests := []struct {
		name, old, want string
	}{
		{"replaces between the markers", "# B\n\nintro\n\n" + beginMarker + "\nold\n" + endMarker + "\n\n## After\n",
			"# B\n\nintro\n\n" + section + "\n## After\n"},
		{"marker at the end of the file", "intro\n" + beginMarker + "\nold\n" + endMarker,
			"intro\n" + section},
		{"no markers: appended", "# B\n", "# B\n\n" + section},
		{"no file", "", "# Benchmarks\n\n" + section},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "b.md")
			if tc.old != "" {
				if err := os.WriteFile(path, []byte(tc.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := writeSection(path, section); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("file =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	less := func(a, b int) bool { return a < b }
	for _, tc := range []struct {
		in   []int
		want int
	}{{[]int{5}, 5}, {[]int{3, 1, 2}, 2}, {[]int{4, 1, 3, 2}, 2}, {[]int{9, 9, 1}, 9}} {
		if got := median(tc.in, less); got != tc.want {
			t.Errorf("median(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestFlipSignature(t *testing.T) {
	t.Parallel()
	tok := "eyJhIjoxfQ.eyJiIjoyfQ." + b64.EncodeToString([]byte("0123456789abcdef"))
	got := flipSignature(tok)
	if got == tok || !strings.HasPrefix(got, "eyJhIjoxfQ.eyJiIjoyfQ.") {
		t.Fatalf("flipSignature = %q", got)
	}
	sig, err := b64.DecodeString(got[strings.LastIndexByte(got, '.')+1:])
	if err != nil || len(sig) != 16 {
		t.Fatalf("flipped signature %q does not decode to 16 bytes: %v", got, err)
	}
}

func TestPlotIsSVG(t *testing.T) {
	t.Parallel()
	svg := plot([]bar{{"floor ÷ bare", 0.95, 0.9}, {"validate-repeated", 0.82, 0.8}, {"ext-authz <x>", 0.6, 0}, {"refresh", 0.1, 0.2}}, time.Now())
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		_, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("plot is not well-formed XML: %v", err)
			}
			break
		}
	}
	for _, want := range []string{"#c8453c", "#3a9d5d", "#4a78b5", "ext-authz &lt;x&gt;", "≥ 0.80"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("plot lacks %q", want)
		}
	}
}

func TestProcReaders(t *testing.T) {
	t.Parallel()
	pid := os.Getpid()
	rss, peak, err := procMemory(pid)
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("procMemory = %d, %d, %v", rss, peak, err)
	}
	before, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
	}
	if after, err := procCPU(pid); err != nil || after < before {
		t.Errorf("procCPU went from %s to %s, %v", before, after, err)
	}
}
