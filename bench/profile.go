package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profile is the top of a CPU profile of tokend under one load.
type profile struct {
	scenario string
	seconds  int
	top      string // go tool pprof -top
}

// takeProfiles profiles tokend (net/http/pprof behind --pprof) while ghz
// drives the scenarios ids.
func (b *bench) takeProfiles(ctx context.Context, ids []string) error {
	for _, id := range ids {
		s := b.byID(id)
		l, err := s.load(ctx, 0)
		if err != nil {
			return err
		}
		secs := max(2, int(b.cfg.duration.Seconds())-2)
		done := make(chan error, 1)
		go func() {
			_, err := b.ghz(ctx, "profile-"+id, l, time.Duration(secs+2)*time.Second)
			done <- err
		}()
		select { // let the load reach its pace
		case <-time.After(time.Second):
		case err := <-done:
			return fmt.Errorf("profile %s: ghz ended early: %v", id, err)
		}
		path := filepath.Join(b.cfg.outDir, id+".pprof")
		if err := fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.tokend.http, secs), path); err != nil {
			<-done
			return fmt.Errorf("profile %s: %w", id, err)
		}
		if err := <-done; err != nil {
			return err
		}
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=30", b.cfg.tokendBin, path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof: %v\n%s", err, out)
		}
		b.profiles = append(b.profiles, profile{scenario: id, seconds: secs, top: trimPprof(string(out))})
		log.Printf("profiled %s for %ds", id, secs)
	}
	return nil
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// trimPprof drops pprof's header lines that name local files.
func trimPprof(s string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Time:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
