package clickhouse

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

func TestConnectionLost(t *testing.T) {
	f := func(err error, want bool) {
		t.Helper()
		if got := connectionLost(err); got != want {
			t.Errorf("connectionLost(%v) = %v, want %v", err, got, want)
		}
	}
	f(fmt.Errorf("insert into events: %w", net.ErrClosed), true)
	f(fmt.Errorf("send: %w", syscall.EPIPE), true)
	f(errors.New("write error to 127.0.0.1:9000 (conn_id=1): write: write tcp 127.0.0.1:1->127.0.0.1:9000: use of closed network connection"), true)
	f(errors.New("code: 60, message: Table healthcode.nowhere doesn't exist"), false)
	f(errors.New("append events column 3: converting int to string is unsupported"), false)
}
