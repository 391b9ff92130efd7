package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// A batch insert is all or nothing: one row ClickHouse refuses fails the
// whole block, and the block alone does not say which row it was. The writers
// therefore tell a refused batch (the data: retrying it never helps) from an
// unavailable server (retry it as it is), and isolate the refused rows of a
// refused batch by bisection: the batch is split in halves and each half
// inserted again, down to single rows. k refused rows among n cost
// O(k log n) inserts; every other row is written.
//
// Refusals come from two places:
//
//   - clickhouse-go's column encoders, which check each value against the
//     column type the server declared for the insert (an Enum8 value the
//     enum lacks: "unknown element"; a string longer than a FixedString;
//     a Go type the column cannot take). They fail Append, before anything
//     is sent.
//   - the server, which answers with an exception whose code names a data
//     error: a value out of range or unparsable, a constraint (CHECK on
//     19.14+, code 469), a throwIf in a MATERIALIZED or DEFAULT expression
//     (code 395, the constraint available on 18.16), an enum element it does
//     not know (691). dataCodes lists them.
//
// Anything else (a network error, a timeout, a server exception of another
// code: an unknown table, memory, too many parts) means the server cannot
// take the batch now, and the caller keeps it and retries. An unknown code
// counts as unavailable: retried forever and logged is better than a batch
// dead-lettered by a mistaken guess.

// RefusedRow is one input row a writer refused.
type RefusedRow struct {
	Index int    // the row's index in the writer's input
	Table string // the table that refused it
	Err   error  // why: the writer's check, the driver's or the server's refusal
}

// RefusedError is returned by WriteEvents, WriteColourUpdates and
// WriteExposures when they refused some rows and wrote every other one. Get
// it with errors.As; the rows are in input order.
type RefusedError struct {
	Rows []RefusedRow
}

func (e *RefusedError) Error() string {
	if len(e.Rows) == 0 {
		return "no rows refused"
	}
	r := e.Rows[0]
	if len(e.Rows) == 1 {
		return fmt.Sprintf("%s refused row %d: %v", r.Table, r.Index, r.Err)
	}
	return fmt.Sprintf("%d rows refused; the first, row %d, by %s: %v", len(e.Rows), r.Index, r.Table, r.Err)
}

// refusedOrNil returns a *RefusedError for rows, or nil if there are none.
func refusedOrNil(rows []RefusedRow) error {
	if len(rows) == 0 {
		return nil
	}
	return &RefusedError{Rows: rows}
}

// valueError is a value a column encoder refused (Append failed).
type valueError struct{ err error }

func (e *valueError) Error() string { return e.err.Error() }
func (e *valueError) Unwrap() error { return e.err }

// dataCodes are the server exception codes that refuse the data of an
// insert, not the server's state (ClickHouse's ErrorCodes.cpp).
var dataCodes = map[int32]string{
	6:   "CANNOT_PARSE_TEXT",
	26:  "CANNOT_PARSE_QUOTED_STRING",
	27:  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
	36:  "BAD_ARGUMENTS",
	38:  "CANNOT_PARSE_DATE",
	41:  "CANNOT_PARSE_DATETIME",
	53:  "TYPE_MISMATCH",
	69:  "ARGUMENT_OUT_OF_BOUND",
	70:  "CANNOT_CONVERT_TYPE",
	72:  "CANNOT_PARSE_NUMBER",
	117: "INCORRECT_DATA",
	128: "TOO_LARGE_ARRAY_SIZE",
	131: "TOO_LARGE_STRING_SIZE",
	190: "SIZES_OF_ARRAYS_DOESNT_MATCH",
	321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
	395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO",
	469: "VIOLATED_CONSTRAINT",
	691: "UNKNOWN_ELEMENT_OF_ENUM",
}

// IsDataError reports whether err refuses the data of an insert (a column
// encoder refused a value, or the server answered with an exception of a data
// code), so that sending the same rows again can never succeed. Any other
// error (network, timeout, another exception) is false: the server may take
// the same rows later.
func IsDataError(err error) bool {
	if err == nil {
		return false
	}
	var ve *valueError
	if errors.As(err, &ve) {
		return true
	}
	var ex *ch.Exception
	if errors.As(err, &ex) {
		_, ok := dataCodes[ex.Code]
		return ok
	}
	return false
}

// insertIsolating inserts cols (whole columns of equal length) into table and
// returns the rows refused, isolated by bisection, with every other row
// written. rows[i] is the input index of column row i, as reported in
// RefusedRow.Index. A non-data error stops it and is returned: the caller
// retries the batch (the rows written before are absorbed by the
// ReplacingMergeTree keys).
func (c *Client) insertIsolating(ctx context.Context, table, columns string, cols []any, rows []int) ([]RefusedRow, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	var refused []RefusedRow
	err := bisect(0, len(rows), func(lo, hi int) error {
		part := cols
		if lo != 0 || hi != len(rows) {
			part = sliceRows(cols, lo, hi)
		}
		err := c.insertColumns(ctx, table, columns, part)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}, func(i int, err error) {
		refused = append(refused, RefusedRow{Index: rows[i], Table: table, Err: err})
	})
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		c.opts.Logger.Warn("clickhouse refused rows; the rest of the batch is written", "table", table,
			"refused", len(refused), "rows", len(rows), "error", refused[0].Err)
	}
	return refused, nil
}

// bisect inserts rows [lo, hi) with insert. On a data error it splits the
// range in halves and inserts each, down to single rows, which it passes to
// refuse, in order. It returns the first error that is not a data error.
func bisect(lo, hi int, insert func(lo, hi int) error, refuse func(i int, err error)) error {
	err := insert(lo, hi)
	switch {
	case err == nil:
		return nil
	case !IsDataError(err):
		return err
	case hi-lo == 1:
		refuse(lo, err)
		return nil
	}
	mid := lo + (hi-lo)/2
	if err := bisect(lo, mid, insert, refuse); err != nil {
		return err
	}
	return bisect(mid, hi, insert, refuse)
}

// sliceRows returns rows [lo, hi) of each column (slices sharing storage).
func sliceRows(cols []any, lo, hi int) []any {
	out := make([]any, len(cols))
	for i, col := range cols {
		out[i] = reflect.ValueOf(col).Slice(lo, hi).Interface()
	}
	return out
}

// pickRows returns the rows at the given column indexes of each column, in
// that order (new slices).
func pickRows(cols []any, keep []int) []any {
	out := make([]any, len(cols))
	for i, col := range cols {
		v := reflect.ValueOf(col)
		s := reflect.MakeSlice(v.Type(), len(keep), len(keep))
		for j, k := range keep {
			s.Index(j).Set(v.Index(k))
		}
		out[i] = s.Interface()
	}
	return out
}

// identity returns 0..n-1.
func identity(n int) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	return rows
}
