package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tokendProc is a running tokend.
type tokendProc struct {
	cmd        *exec.Cmd
	grpc, http string
	logPath    string
	done       chan error
}

// tokendArgs are the serve flags of every benchmark run: loopback ports
// picked by the kernel, profiles on the HTTP port (idle unless a profile
// is taken), and an issuer rate limit far above what one machine reaches
// (the limiter stays in the chain, as in production, but never refuses;
// the validator default is unlimited already). Everything else is the
// default configuration.
func tokendArgs(dataDir string) []string {
	return []string{"serve",
		"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--data-dir", dataDir, "--pprof",
		"--rate-limit-issuer", "1000000/s",
	}
}

// startTokend starts bin serving on dataDir with adminKey, and returns once
// it logged its addresses. Its log goes to logPath.
func startTokend(ctx context.Context, bin, dataDir, adminKey, logPath string, extra []string) (*tokendProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, append(tokendArgs(dataDir), extra...)...)
	cmd.Env = append(os.Environ(), "TOKEND_ADMIN_KEY="+adminKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tokend: %w", err)
	}
	p := &tokendProc{cmd: cmd, logPath: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.grpc, p.http = servingAddrs(logPath); p.grpc != "" {
			return p, nil
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("tokend exited before serving (%v); log %s:\n%s", err, logPath, tail(logPath))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("tokend did not serve within 30s; log %s:\n%s", logPath, tail(logPath))
		}
	}
}

// servingAddrs reads the addresses from tokend's "tokend serving" line.
func servingAddrs(logPath string) (grpcAddr, httpAddr string) {
	f, err := os.Open(logPath)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			GRPC string `json:"grpc"`
			HTTP string `json:"http"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "tokend serving" {
			return line.GRPC, line.HTTP
		}
	}
	return "", ""
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop ends tokend with SIGTERM (SIGKILL after 15 s).
func (p *tokendProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("tokend exited with %v", err)
		}
		return err
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("tokend did not stop within 15s: killed")
	}
}

// memory reads the process's resident set now and its peak (VmRSS, VmHWM
// of /proc/PID/status), in bytes.
func (p *tokendProc) memory() (rss, peak int64, err error) {
	return procMemory(p.cmd.Process.Pid)
}

func procMemory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch name {
		case "VmRSS":
			rss = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, fmt.Errorf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return rss, peak, nil
}

// procCPU returns the CPU time (user + system) the process used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The fields after the command name (which may hold spaces) start at
	// state (field 3); utime and stime are fields 14 and 15, in ticks.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	const ticksPerSecond = 100 // USER_HZ, 100 on every Linux architecture Go runs on
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, nil
}

// bareProc is the bare gRPC server.
type bareProc struct {
	cmd  *exec.Cmd
	addr string
}

func startBare(bin string) (*bareProc, error) {
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bare server: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("bare server: %w", err)
	}
	return &bareProc{cmd: cmd, addr: strings.TrimSpace(line)}, nil
}

func (b *bareProc) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	_ = b.cmd.Wait()
}
