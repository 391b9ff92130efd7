package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// buildBinary builds the healthcode binary into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "healthcode")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a child healthcode process; its standard error goes to a file
// shown when the test fails.
type process struct {
	cmd    *exec.Cmd
	stderr string
	done   chan error
}

// start runs bin with args and returns once the first stdout line matching
// re appears, with its first submatch.
func start(t *testing.T, name, bin string, env []string, re *regexp.Regexp, args ...string) (*process, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	errPath := filepath.Join(t.TempDir(), name+".stderr")
	ef, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = ef
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: errPath, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, out)
		p.done <- cmd.Wait()
		ef.Close()
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(errPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s stderr (tail):\n%s", name, b)
		}
	})
	select {
	case v := <-found:
		return p, v
	case err := <-p.done:
		p.done <- err
		b, _ := os.ReadFile(errPath)
		t.Fatalf("%s exited before printing %s: %v\n%s", name, re, err, b)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s printed no %s within 60s", name, re)
	}
	return nil, ""
}

// kill sends SIGKILL and waits for the process to be gone (harmless twice).
func (p *process) kill() {
	p.cmd.Process.Kill() // an error only if it is already gone
	err := <-p.done
	p.done <- err
}

// freePort returns a loopback TCP port free at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var brokerLine = regexp.MustCompile(`^healthcode broker listening on (\S+) `)

// startBroker runs `healthcode broker` on a port chosen by the kernel.
func startBroker(t *testing.T, bin, dataDir string, extra ...string) (*process, string) {
	t.Helper()
	args := append([]string{"broker", "--port", "0", "--data-dir", dataDir, "--partitions", strconv.Itoa(4)}, extra...)
	return start(t, "broker", bin, nil, brokerLine, args...)
}
