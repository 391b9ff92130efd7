package chtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// readyTimeout bounds the wait for a started server to answer.
const readyTimeout = 60 * time.Second

// server is a running clickhouse-server child process.
type server struct {
	addr    string
	dir     string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // the process's exit; read after exited is closed
}

// errNoBinary says no clickhouse-server was found.
var errNoBinary = errors.New("no clickhouse-server binary (looked in PATH, /usr/sbin, /usr/bin)")

// findBinary returns the command that runs a server: clickhouse-server, or the
// single clickhouse binary of current releases with "server".
func findBinary() (string, []string, error) {
	for _, p := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil, nil
		}
	}
	for _, p := range []string{"clickhouse", "/usr/bin/clickhouse"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, []string{"server"}, nil
		}
	}
	return "", nil, errNoBinary
}

// startServer starts a server in a new temporary directory. skip reports that
// the error is errNoBinary.
func startServer() (s *server, skip bool, err error) {
	bin, args, err := findBinary()
	if err != nil {
		return nil, true, err
	}
	dir, err := os.MkdirTemp("", "chtest-")
	if err != nil {
		return nil, false, fmt.Errorf("start clickhouse: %w", err)
	}
	// A port found free may be taken before the server binds it: try a few.
	for attempt := 1; ; attempt++ {
		s, err = startIn(bin, args, dir)
		if err == nil || attempt == 3 {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, false, err
	}
	return s, false, nil
}

func startIn(bin string, args []string, dir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	conf, err := writeConfig(dir, port, "")
	if err != nil {
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	s, err := launch(dir, port, bin, append(args, "--config-file="+conf)...)
	if err != nil {
		return nil, err
	}
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// launch starts bin with args in dir, its output in dir/stdout.log, as a
// process listening on 127.0.0.1:port.
func launch(dir string, port int, bin string, args ...string) (*server, error) {
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	defer out.Close()
	s := &server{
		addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		dir:    dir,
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = out, out
	setParentDeathSignal(s.cmd)
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that started the
		// child exits, so that thread stays locked to this goroutine, which
		// lives until the server is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return s, nil
}

// waitReady pings the server until it answers, it exits, or readyTimeout passes.
func (s *server) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	conn, err := ch.Open(&ch.Options{Addr: []string{s.addr}, DialTimeout: time.Second})
	if err != nil {
		return fmt.Errorf("clickhouse at %s: %w", s.addr, err)
	}
	defer conn.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = conn.Ping(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("clickhouse at %s exited (%v) before answering: %s", s.addr, s.waitErr, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse at %s not ready after %s: %v: %s", s.addr, readyTimeout, err, s.logTail())
		}
	}
}

// logTail returns the end of the server's error log and output, for messages.
func (s *server) logTail() string {
	var b []byte
	for _, name := range []string{"stdout.log", "log/clickhouse-server.err.log"} {
		d, _ := os.ReadFile(filepath.Join(s.dir, name))
		b = append(b, d...)
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stop terminates the server (SIGTERM, then SIGKILL after 10 s), waits for it
// and removes its directory.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	if os.Getenv("CHTEST_KEEP") != "" {
		return nil
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("stop clickhouse: %w", err)
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
