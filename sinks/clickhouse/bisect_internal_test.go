package clickhouse

import (
	"errors"
	"fmt"
	"math/bits"
	"net"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

func TestIsDataError(t *testing.T) {
	f := func(err error, want bool) {
		t.Helper()
		if got := IsDataError(err); got != want {
			t.Errorf("IsDataError(%v) = %v, want %v", err, got, want)
		}
	}
	f(nil, false)
	f(fmt.Errorf("insert into events: %w", &ch.Exception{Code: 395, Message: "Value passed to 'throwIf' function is non zero"}), true)
	f(&ch.Exception{Code: 469, Message: "Constraint violated"}, true)
	f(fmt.Errorf("append events column 3: %w", &valueError{errors.New("unknown element 9")}), true)
	// The server's state, not the data: retry.
	f(&ch.Exception{Code: 60, Message: "Table healthcode.events doesn't exist"}, false)
	f(&ch.Exception{Code: 241, Message: "Memory limit exceeded"}, false)
	f(&ch.Exception{Code: 252, Message: "Too many parts"}, false)
	f(fmt.Errorf("insert into events: %w", net.ErrClosed), false)
	f(&net.OpError{Op: "dial", Err: errors.New("connection refused")}, false)
}

// TestBisect: k refused rows among n are isolated in O(k log n) inserts, and
// every other row is inserted exactly once.
func TestBisect(t *testing.T) {
	refuse := errors.New("refused")
	for _, tc := range []struct {
		n   int
		bad []int
	}{{1, nil}, {1, []int{0}}, {10, []int{0, 9}}, {1000, []int{3}}, {1000, []int{0, 500, 999}}, {4096, []int{17, 18, 19, 2000}}, {7, []int{0, 1, 2, 3, 4, 5, 6}}} {
		bad := map[int]bool{}
		for _, i := range tc.bad {
			bad[i] = true
		}
		calls := 0
		written := make([]int, tc.n)
		var got []int
		err := bisect(0, tc.n, func(lo, hi int) error {
			calls++
			for i := lo; i < hi; i++ {
				if bad[i] {
					return &valueError{refuse}
				}
			}
			for i := lo; i < hi; i++ {
				written[i]++
			}
			return nil
		}, func(i int, err error) {
			if !errors.Is(err, refuse) {
				t.Errorf("row %d refused with %v", i, err)
			}
			got = append(got, i)
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.bad) && !(len(got) == 0 && len(tc.bad) == 0) {
			t.Errorf("n=%d: refused %v, want %v", tc.n, got, tc.bad)
		}
		for i, w := range written {
			if want := map[bool]int{true: 0, false: 1}[bad[i]]; w != want {
				t.Errorf("n=%d: row %d written %d times, want %d", tc.n, i, w, want)
			}
		}
		depth := bits.Len(uint(tc.n))
		if limit := 1 + 2*len(tc.bad)*depth; calls > limit {
			t.Errorf("n=%d, k=%d: %d inserts, want at most %d", tc.n, len(tc.bad), calls, limit)
		}
	}
	// An unavailable server stops the bisection with its error.
	down := errors.New("connection refused")
	if err := bisect(0, 100, func(lo, hi int) error {
		if hi-lo < 100 {
			return down
		}
		return &valueError{refuse}
	}, func(int, error) { t.Error("a row was refused while the server was down") }); !errors.Is(err, down) {
		t.Errorf("bisect with the server down = %v, want %v", err, down)
	}
}
