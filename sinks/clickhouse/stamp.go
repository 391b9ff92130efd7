package clickhouse

import (
	"fmt"
	"hash/maphash"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"
)

// In cluster mode the writers send inserted_at themselves instead of leaving
// it to DEFAULT now(): a Replicated table drops a block identical to one it
// already has (insert_deduplicate, the last 100 blocks by default), and a
// retried insert is only identical if it carries the same inserted_at. So an
// insert that failed leaves its stamp here, keyed by table and a hash of its
// rows, and the next insert of the same rows into that table (the caller's
// retry of the batch) reuses it; any other insert, or a success, forgets it.

// retryStamps holds, per table, the stamp of the last failed insert.
type retryStamps struct {
	seed maphash.Seed
	mu   sync.Mutex
	last map[string]stamp
}

type stamp struct {
	sum uint64
	at  int64 // unix seconds
}

func newRetryStamps() *retryStamps {
	return &retryStamps{seed: maphash.MakeSeed(), last: map[string]stamp{}}
}

// take returns the stamp for an insert of cols into table: the failed
// insert's if cols are its rows, else now.
func (r *retryStamps) take(table string, cols []any, now time.Time) (stamp, error) {
	sum, err := r.sum(cols)
	if err != nil {
		return stamp{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.last[table]; ok && s.sum == sum {
		return s, nil
	}
	return stamp{sum: sum, at: min(max(now.Unix(), 0), math.MaxUint32)}, nil
}

// done records the outcome of the insert stamped s.
func (r *retryStamps) done(table string, s stamp, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.last[table] = s
	} else {
		delete(r.last, table)
	}
}

// sum hashes the columns' values.
func (r *retryStamps) sum(cols []any) (uint64, error) {
	var h maphash.Hash
	h.SetSeed(r.seed)
	for i, col := range cols {
		switch c := col.(type) {
		case []string:
			for _, s := range c {
				h.WriteString(s)
				h.WriteByte(0)
			}
		case [][]byte:
			for _, b := range c {
				h.Write(b)
				h.WriteByte(0)
			}
		case [][]string:
			for _, ss := range c {
				for _, s := range ss {
					h.WriteString(s)
					h.WriteByte(0)
				}
				h.WriteByte(1)
			}
		case []time.Time:
			for _, t := range c {
				maphash.WriteComparable(&h, t.UnixNano())
			}
		case []int8:
			writeFixed(&h, c)
		case []uint8:
			writeFixed(&h, c)
		case []int16:
			writeFixed(&h, c)
		case []uint32:
			writeFixed(&h, c)
		case []int64:
			writeFixed(&h, c)
		case []uint64:
			writeFixed(&h, c)
		case []float32:
			writeFixed(&h, c)
		default:
			return 0, fmt.Errorf("column %d: no hash for %T", i, col)
		}
		h.WriteByte(2)
	}
	return h.Sum64(), nil
}

// writeFixed hashes the bytes of a slice of fixed-size numbers.
func writeFixed[T int8 | uint8 | int16 | uint32 | int64 | uint64 | float32](h *maphash.Hash, s []T) {
	if len(s) == 0 {
		return
	}
	var zero T
	h.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero))))
}

// rowCount is the length of the first column.
func rowCount(cols []any) int {
	if len(cols) == 0 {
		return 0
	}
	return reflect.ValueOf(cols[0]).Len()
}
