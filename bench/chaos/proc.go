package chaos

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// proc is one child process the harness owns: a broker, a worker or a
// ClickHouse server. It restarts the process when it exits on its own (as a
// supervisor such as systemd or Kubernetes would) and counts those exits;
// Kill, Term and Stop end it without a restart. Its output is appended to
// dir/name.log.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string
	lg   *slog.Logger

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has been waited for
	stopping bool          // the harness ended it: do not restart
	closed   bool          // no more restarts at all
	starts   int
	crashes  []string // exits nobody asked for
	wg       sync.WaitGroup
}

func newProc(name, dir, bin string, args, env []string, lg *slog.Logger) *proc {
	return &proc{name: name, bin: bin, args: args, env: env, log: filepath.Join(dir, name+".log"), lg: lg.With(slog.String("proc", name))}
}

// start starts the process; it must not be running.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startLocked()
}

func (p *proc) startLocked() error {
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	fmt.Fprintf(out, "\n==== chaos: start %s at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = out, out
	// The child dies with the harness (a panic, a timeout, SIGKILL): the
	// parent-death signal fires when the starting thread exits, so that
	// thread stays locked to the goroutine that waits for the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	exited := make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			out.Close()
			started <- err
			close(exited)
			return
		}
		started <- nil
		werr := cmd.Wait()
		out.Close()
		close(exited)
		p.exitedOnItsOwn(cmd, werr)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.exited, p.stopping = cmd, exited, false
	p.starts++
	return nil
}

// exitedOnItsOwn restarts the process after an exit the harness did not ask
// for, a second later.
func (p *proc) exitedOnItsOwn(cmd *exec.Cmd, werr error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != cmd || p.stopping || p.closed {
		return
	}
	why := fmt.Sprintf("%s exited on its own (%v): %s", p.name, werr, p.tail())
	p.crashes = append(p.crashes, why)
	p.lg.Warn("process exited on its own; restarting it", slog.Any("exit", werr))
	p.cmd = nil
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		time.Sleep(time.Second)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cmd != nil || p.closed {
			return
		}
		if err := p.startLocked(); err != nil {
			p.crashes = append(p.crashes, err.Error())
		}
	}()
}

// signal sends sig and waits up to wait for the exit (then SIGKILL).
func (p *proc) signal(sig syscall.Signal, wait time.Duration) (time.Duration, error) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.stopping = true
	p.mu.Unlock()
	if cmd == nil {
		return 0, nil
	}
	t0 := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		return 0, fmt.Errorf("signal %s: %w", p.name, err)
	}
	select {
	case <-exited:
		return time.Since(t0), nil
	case <-time.After(wait):
		cmd.Process.Kill()
		<-exited
		return time.Since(t0), fmt.Errorf("%s did not exit within %s of %v; killed", p.name, wait, sig)
	}
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() error { _, err := p.signal(syscall.SIGKILL, time.Minute); return err }

// term ends the process with SIGTERM, waiting up to wait; it returns how long
// the process took to exit, and an error if it had to be killed or exited
// non-zero.
func (p *proc) term(wait time.Duration) (time.Duration, error) {
	d, err := p.signal(syscall.SIGTERM, wait)
	if err != nil {
		return d, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.cmd.ProcessState; st != nil && st.ExitCode() != 0 {
		return d, fmt.Errorf("%s exited with code %d after SIGTERM", p.name, st.ExitCode())
	}
	return d, nil
}

// close ends the process (SIGTERM, then SIGKILL) for good and waits for every
// goroutine of p.
func (p *proc) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.signal(syscall.SIGTERM, 15*time.Second)
	p.wg.Wait()
}

// crashed returns the exits nobody asked for.
func (p *proc) crashed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.crashes...)
}

// tail returns the end of the process's log.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	b = bytes.TrimSpace(b)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return string(b)
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

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// waitFor polls ok every 100ms until it returns nil or d passes.
func waitFor(d time.Duration, what string, ok func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := ok()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready after %s: %w", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
