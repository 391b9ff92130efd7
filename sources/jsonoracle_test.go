package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The reference the decoder of jsonscan.go is held to: the encoding/json
// path it replaced, kept here as it was (the field types' UnmarshalJSON
// methods and call.unmarshal's error mapping), for the differential tests of
// jsondiff_test.go. It lives only in the tests: the methods below make the
// field types json.Unmarshalers in test builds alone.

// oracleUnmarshal decodes value into the stream's message struct in the
// scratch with encoding/json, as the decoder did before.
func (c *call) oracleUnmarshal(value []byte) *RejectError {
	if i := invalidUTF8At(value); i >= 0 {
		return c.reject(RejectMalformed, "", fmt.Sprintf("not valid UTF-8 (byte %d), and the contract's JSON is UTF-8", i))
	}
	err := json.Unmarshal(value, c.sc.message(c.s))
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return c.reject(RejectMalformed, "", fmt.Sprintf("not valid JSON (byte %d: %s)", se.Offset, se.Error()))
	case errors.As(err, &te):
		got, _, _ := strings.Cut(te.Value, " ")
		field := strings.TrimPrefix(te.Field, "envelope.") // the embedded common fields
		if field == "" {
			return c.reject(RejectMalformed, "", "the message must be a JSON object, not "+article(got))
		}
		return c.reject(RejectMalformed, field, "must be "+article(jsonKind(te.Type))+", not "+article(got))
	}
	return c.reject(RejectMalformed, "", "not valid JSON")
}

// message returns the stream's message struct in the scratch.
func (sc *scratch) message(s Stream) any {
	switch s {
	case StreamFlights:
		return &sc.flight
	case StreamTravel:
		return &sc.travel
	case StreamTests:
		return &sc.test
	case StreamCheckins:
		return &sc.checkin
	case StreamVaccinations:
		return &sc.vaccination
	case StreamDeclarations:
		return &sc.declaration
	case StreamAreaRisk:
		return &sc.areaRisk
	case StreamOverrides:
		return &sc.override
	}
	panic("no message struct for " + s.String())
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "bool"
	}
	return "number"
}

func (t *text) UnmarshalJSON(b []byte) error {
	s, st := jsonString(b)
	t.st, t.n = st, 0
	if st == textOK {
		if len(s) > textMax {
			t.st = textTooLong
			return nil
		}
		t.n = uint8(copy(t.b[:], s))
	}
	return nil
}

// jsonString returns the contents of the JSON string literal b. Strings with
// escapes are unquoted by encoding/json (rare upstream; allocates).
func jsonString(b []byte) ([]byte, textState) {
	if len(b) == 0 || string(b) == "null" {
		return nil, textAbsent
	}
	if len(b) < 2 || b[0] != '"' {
		return nil, textNotString
	}
	s := b[1 : len(b)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		var u string
		if err := json.Unmarshal(b, &u); err != nil {
			return nil, textNotString
		}
		return []byte(u), textOK
	}
	return s, textOK
}

func (l *label) UnmarshalJSON(b []byte) error {
	s, st := jsonString(b)
	*l = label{st: st, n: len(s)}
	if st == textOK {
		l.fault = textFault(s, kindProse)
	}
	return nil
}

func (n *num) UnmarshalJSON(b []byte) error {
	n.v, n.st = 0, numNotNumber
	switch {
	case len(b) == 0 || string(b) == "null":
		n.st = numAbsent
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		v, err := strconv.ParseFloat(string(b), 64)
		switch {
		case err == nil && !math.IsInf(v, 0) && !math.IsNaN(v):
			n.v, n.st = v, numOK
		case errors.Is(err, strconv.ErrRange):
			n.st = numNotFinite
		}
	}
	return nil
}

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	t.unix = 0
	switch {
	case len(b) == 0 || string(b) == "null":
		t.st = timeAbsent
	case len(b) < 2 || b[0] != '"':
		t.st = timeNotString
	default:
		t.unix, t.st = parseRFC3339(b[1 : len(b)-1])
	}
	return nil
}

// CompareWithOracle decodes value of stream s with the decoder and with the
// encoding/json oracle, each on a fresh scratch, and returns the first
// difference: in the rejection, in the decoded message struct, in what
// validation makes of it; then it runs d.Decode itself (a pooled scratch,
// used by earlier messages) and holds its outcome to the oracle's too.
func CompareWithOracle(d *Decoder, s Stream, value []byte) error {
	got := d.runWith(s, value, (*call).unmarshal)
	want := d.runWith(s, value, (*call).oracleUnmarshal)
	switch {
	case got.rejection != want.rejection:
		return fmt.Errorf("unmarshal: got %s, want %s", got.rejection, want.rejection)
	case got.message != want.message:
		return fmt.Errorf("decoded message\n got %s\nwant %s", got.message, want.message)
	case got.outcome != want.outcome:
		return fmt.Errorf("validation: got %s, want %s", got.outcome, want.outcome)
	}
	var b Batch
	err := d.Decode(s, value, &b)
	if o := outcome(err, &b); o != want.outcome {
		return fmt.Errorf("Decode: got %s, want %s", o, want.outcome)
	}
	return nil
}

// oracleRun is what one way of unmarshalling made of a message.
type oracleRun struct {
	rejection string // unmarshal's, or "nil"
	message   string // the decoded struct, if unmarshal accepted it
	outcome   string // the rejection and output of the whole decode
}

func (d *Decoder) runWith(s Stream, value []byte, unmarshal func(*call, []byte) *RejectError) oracleRun {
	sc := d.pool.New().(*scratch)
	c := &sc.call
	*c = call{d: d, sc: sc, s: s, notAfter: d.cfg.Now().Add(d.cfg.MaxAhead).Unix(), passenger: -1}
	if s < StreamFlights || s > StreamOverrides {
		r := c.decode(value, nil)
		return oracleRun{rejection: rejection(r), outcome: rejection(r)}
	}
	r := unmarshal(c, value)
	run := oracleRun{rejection: rejection(r), outcome: rejection(r)}
	if r == nil {
		var b strings.Builder
		canon(&b, reflect.ValueOf(sc.message(s)))
		run.message = b.String()
		var out Batch
		if r = c.check(&out); r != nil {
			run.outcome = rejection(r)
		} else {
			run.outcome = outcome(nil, &out)
		}
	}
	return run
}

func rejection(r *RejectError) string {
	if r == nil {
		return "nil"
	}
	return fmt.Sprintf("%s/%q: %s", r.Class, r.Field, r.Error())
}

func outcome(err error, b *Batch) string {
	if err != nil {
		var r *RejectError
		if !errors.As(err, &r) {
			return "not a *RejectError: " + err.Error()
		}
		return rejection(r)
	}
	return fmt.Sprintf("accepted %+v", *b)
}

// canon writes v so that two structs the validation cannot tell apart are
// written alike: a field type by what it holds (not the bytes of a buffer
// past its length), a nil slice as an empty one, a pointer by what it
// points to.
func canon(b *strings.Builder, v reflect.Value) {
	if v.CanInterface() {
		switch x := v.Interface().(type) {
		case text:
			fmt.Fprintf(b, "text(%d %q)", x.st, x.bytes())
			return
		case label:
			fmt.Fprintf(b, "label(%d %d %q)", x.st, x.n, x.fault)
			return
		case num:
			fmt.Fprintf(b, "num(%d %x)", x.st, math.Float64bits(x.v))
			return
		case jsonTime:
			fmt.Fprintf(b, "time(%d %d)", x.st, x.unix)
			return
		case string:
			b.WriteString(strconv.Quote(x))
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("&")
		canon(b, v.Elem())
	case reflect.Struct:
		b.WriteString("{")
		for i := range v.NumField() {
			b.WriteString(v.Type().Field(i).Name + ":")
			canon(b, v.Field(i))
			b.WriteString(" ")
		}
		b.WriteString("}")
	case reflect.Slice:
		b.WriteString("[")
		for i := range v.Len() {
			canon(b, v.Index(i))
			b.WriteString(" ")
		}
		b.WriteString("]")
	default:
		panic("canon: no case for " + v.Type().String())
	}
}

// OracleSeed is a message for FuzzJSONOracle's seed corpus.
type OracleSeed struct {
	Stream Stream
	Value  []byte
}

// OracleSeeds returns the messages of this package's table of rejections.
func OracleSeeds(tb testing.TB) []OracleSeed {
	var seeds []OracleSeed
	for _, c := range rejectCases() {
		if c.stream < StreamFlights || c.stream > StreamOverrides {
			continue
		}
		msg := []byte(c.raw)
		if c.edit != nil {
			msg = edited(tb, c.stream, c.edit)
		}
		seeds = append(seeds, OracleSeed{c.stream, msg})
	}
	return seeds
}
