package sources

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"healthcode/scoring"
)

// Limits on upstream values; longer input is rejected, not truncated. The
// limits of string fields are in text.go.
const (
	maxPassengers = 1000 // passengers in one manifest
	maxSymptoms   = 32   // entries in a declaration's symptoms
	internMax     = 4096 // distinct interned strings kept per scratch
)

// Batch accumulates decoded output. Callers reuse it: Reset keeps capacity.
type Batch struct {
	Events    []scoring.Event
	Areas     []scoring.Designation
	Overrides []scoring.Override // for the override guard, not yet person events
}

// Reset empties the batch and keeps its capacity.
func (b *Batch) Reset() {
	b.Events = b.Events[:0]
	b.Areas = b.Areas[:0]
	b.Overrides = b.Overrides[:0]
}

// Decoder decodes, validates and pseudonymises upstream messages. It is safe
// for concurrent use.
type Decoder struct {
	cfg      Config
	ahead    string               // cfg.MaxAhead as written in errors ("24h")
	prefixes [len(idTypes)][]byte // "resident_id:", ... : the HMAC input before the number
	pool     sync.Pool            // of *scratch: per-call buffers, reused

	mu     sync.Mutex // protects venues
	venues map[string]venueCell
}

// idTypes are the contract's document types; an index into it identifies one.
var idTypes = [...]string{IDTypeResident, IDTypePassport, IDTypeHKMacauPermit, IDTypeTaiwanPermit, IDTypeForeignPermanentR}

// scratch holds the buffers of one Decode call. Pooled: it is owned by one
// call at a time.
type scratch struct {
	call  call
	mac   hash.Hash
	sum   [sha256.Size]byte
	num   [textMax]byte // the normalised document number
	strs  map[string]string
	seen  map[scoring.PersonKey]int32 // a manifest's passengers: who listed each person first
	first []int32                     // a manifest's passenger index of each emitted event

	flight      flightMsg
	travel      travelMsg
	test        testMsg
	checkin     checkinMsg
	vaccination vaccinationMsg
	declaration declarationMsg
	areaRisk    areaRiskMsg
	override    overrideMsg
	journey     journeyJSON // a declaration's journey, when it has one
	used        scratchUse
	json        reader
}

// NewDecoder returns a Decoder for cfg. It refuses an empty Key.
func NewDecoder(cfg Config) (*Decoder, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	cfg.Key = append([]byte(nil), cfg.Key...)
	cfg.Colours = append([]string(nil), cfg.Colours...)
	d := &Decoder{cfg: cfg, ahead: shortDuration(cfg.MaxAhead), venues: make(map[string]venueCell)}
	for i, t := range idTypes {
		d.prefixes[i] = []byte(t + ":")
	}
	key := cfg.Key
	d.pool.New = func() any {
		return &scratch{
			mac:  hmac.New(sha256.New, key),
			strs: make(map[string]string),
			seen: make(map[scoring.PersonKey]int32),
		}
	}
	return d, nil
}

// Decode decodes one upstream message of stream s and appends its output to
// out. On rejection nothing is appended and the error, a *RejectError, says
// why in one sentence that names the field and never quotes the message's
// values (a JSON syntax error shows at most the one offending character).
func (d *Decoder) Decode(s Stream, value []byte, out *Batch) error {
	sc := d.pool.Get().(*scratch)
	nEvents, nAreas, nOverrides := len(out.Events), len(out.Areas), len(out.Overrides)
	c := &sc.call // in the scratch, pooled with the buffers it uses
	*c = call{d: d, sc: sc, s: s, notAfter: d.cfg.Now().Add(d.cfg.MaxAhead).Unix(), passenger: -1}
	r := c.decode(value, out)
	*c = call{}
	clear(sc.num[:])
	d.pool.Put(sc)
	if r != nil {
		out.Events = out.Events[:nEvents]
		out.Areas = out.Areas[:nAreas]
		out.Overrides = out.Overrides[:nOverrides]
		return r
	}
	return nil
}

// call is the state of one Decode call.
type call struct {
	d         *Decoder
	sc        *scratch
	s         Stream
	notAfter  int64  // Unix seconds: the latest observed time accepted
	num       []byte // the last person's normalised document number (in sc.num)
	passenger int    // index of the manifest passenger being checked, or -1
}

// decode decodes value into the stream's message struct, checks it, and
// zeroes the struct again, so raw identifiers do not outlive the call in the
// pooled scratch (slices keep their capacity).
func (c *call) decode(value []byte, out *Batch) *RejectError {
	if c.s < StreamFlights || c.s > StreamOverrides {
		return c.reject(RejectStream, "", "the stream is unknown to this decoder")
	}
	r := c.unmarshal(value)
	if r == nil {
		r = c.check(out)
	}
	c.sc.clearMessage(c.s)
	return r
}

// check validates the stream's decoded message and appends its output.
func (c *call) check(out *Batch) *RejectError {
	sc := c.sc
	switch c.s {
	case StreamFlights:
		return c.flight(&sc.flight, out)
	case StreamTravel:
		return c.travel(&sc.travel, out)
	case StreamTests:
		return c.test(&sc.test, out)
	case StreamCheckins:
		return c.checkin(&sc.checkin, out)
	case StreamVaccinations:
		return c.vaccination(&sc.vaccination, out)
	case StreamDeclarations:
		return c.declaration(&sc.declaration, out)
	case StreamAreaRisk:
		return c.areaRisk(&sc.areaRisk, out)
	}
	return c.override(&sc.override, out)
}

// reject returns a rejection; field is prefixed with the passenger being
// checked, if any ("passengers[3].seat").
func (c *call) reject(class RejectClass, field, reason string) *RejectError {
	if c.passenger >= 0 {
		field = fmt.Sprintf("passengers[%d].%s", c.passenger, field)
	}
	return &RejectError{Stream: c.s, Class: class, Field: field, Reason: reason}
}

// envelope validates the common fields.
func (c *call) envelope(e *envelope) (id, source string, at scoring.Time, r *RejectError) {
	switch {
	case e.EventID == "":
		return "", "", 0, c.reject(RejectMissing, "event_id", "is required and must not be empty")
	case len(e.EventID) > maxEventID:
		return "", "", 0, c.reject(RejectInvalid, "event_id", fmt.Sprintf("is longer than %d bytes", maxEventID))
	case strings.TrimSpace(e.EventID) == "":
		return "", "", 0, c.reject(RejectMissing, "event_id", "is required and must not be blank")
	}
	if f := textFaultString(e.EventID, kindIdent); f != "" {
		return "", "", 0, c.reject(RejectInvalid, "event_id", f)
	}
	src, r := c.text("source", &e.Source, true)
	if r != nil {
		return "", "", 0, r
	}
	at, r = c.observed("occurred_at", &e.OccurredAt, true)
	if r != nil {
		return "", "", 0, r
	}
	return e.EventID, c.sc.intern(src), at, nil
}

// personEnvelope reads the common fields of a message about one person: the
// envelope, then the person's key.
func (c *call) personEnvelope(e *envelope, p *personJSON) (id, source string, at scoring.Time, key scoring.PersonKey, r *RejectError) {
	if id, source, at, r = c.envelope(e); r != nil {
		return
	}
	key, r = c.person(p)
	return
}

// enum reads a required text field that must be one of names, and returns its
// 1-based position among them.
func (c *call) enum(field string, t *text, names ...string) (uint8, *RejectError) {
	b, r := c.text(field, t, true)
	if r != nil {
		return 0, r
	}
	for i, n := range names {
		if string(b) == n {
			return uint8(i + 1), nil
		}
	}
	return 0, c.reject(RejectInvalid, field, "must be one of "+strings.Join(names, ", "))
}

// text checks a text field's state and characters (kindIdent); required
// fields must be non-blank strings. It returns nil bytes for an absent
// optional field.
func (c *call) text(field string, t *text, required bool) ([]byte, *RejectError) {
	switch t.st {
	case textAbsent:
		if required {
			return nil, c.reject(RejectMissing, field, "is required")
		}
		return nil, nil
	case textNotString:
		return nil, c.reject(RejectMalformed, field, "must be a string")
	case textTooLong:
		return nil, c.reject(RejectInvalid, field, fmt.Sprintf("is longer than %d bytes", textMax))
	}
	b := t.bytes()
	if f := textFault(b, kindIdent); f != "" {
		return nil, c.reject(RejectInvalid, field, f)
	}
	if required {
		switch {
		case len(b) == 0:
			return nil, c.reject(RejectMissing, field, "is required and must not be empty")
		case len(bytes.TrimSpace(b)) == 0:
			return nil, c.reject(RejectMissing, field, "is required and must not be blank")
		}
	}
	return b, nil
}

// label checks an optional free-text field that is not carried.
func (c *call) label(field string, l *label, max int) *RejectError {
	switch {
	case l.st == textNotString:
		return c.reject(RejectMalformed, field, "must be a string")
	case l.n > max:
		return c.reject(RejectInvalid, field, fmt.Sprintf("is longer than %d bytes", max))
	case l.fault != "":
		return c.reject(RejectInvalid, field, l.fault)
	}
	return nil
}

// identString checks a required identifier held as a Go string (officer,
// approver) and returns it trimmed.
func (c *call) identString(field, s string) (string, *RejectError) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return "", c.reject(RejectMissing, field, "is required and must not be blank")
	case len(s) > maxIdent:
		return "", c.reject(RejectInvalid, field, fmt.Sprintf("is longer than %d bytes", maxIdent))
	}
	if f := textFaultString(s, kindIdent); f != "" {
		return "", c.reject(RejectInvalid, field, f)
	}
	return t, nil
}

// observed converts a time that happened in the world: it must not lie more
// than MaxAhead past the wall clock.
func (c *call) observed(field string, t *jsonTime, required bool) (scoring.Time, *RejectError) {
	if r := c.timeState(field, t, required); r != nil || t.st == timeAbsent {
		return 0, r
	}
	if t.unix > c.notAfter {
		return 0, c.reject(RejectTime, field, "is more than "+c.d.ahead+" ahead of the wall clock")
	}
	return c.instant(field, t.unix)
}

// planned converts a planned end (until): it may lie in the future.
func (c *call) planned(field string, t *jsonTime, required bool) (scoring.Time, *RejectError) {
	if r := c.timeState(field, t, required); r != nil || t.st == timeAbsent {
		return 0, r
	}
	return c.instant(field, t.unix)
}

func (c *call) timeState(field string, t *jsonTime, required bool) *RejectError {
	switch t.st {
	case timeAbsent:
		if required {
			return c.reject(RejectMissing, field, "is required")
		}
	case timeNotString:
		return c.reject(RejectMalformed, field, "must be a string holding an RFC 3339 time")
	case timeSyntax:
		return c.reject(RejectTime, field, "is not an RFC 3339 time like 2020-03-16T10:00:00+08:00")
	case timeNoOffset:
		return c.reject(RejectTime, field, "has no UTC offset; RFC 3339 needs one, like +08:00 or Z")
	}
	return nil
}

func (c *call) instant(field string, unix int64) (scoring.Time, *RejectError) {
	s := unix - scoring.Epoch
	switch {
	case s <= 0:
		return 0, c.reject(RejectTime, field, "is not after 2020-01-01T00:00:00Z, the earliest time the pipeline holds")
	case s >= int64(scoring.MaxTime):
		return 0, c.reject(RejectTime, field, "is later than the pipeline can hold (2156)")
	}
	return scoring.Time(s), nil
}

// notBefore checks that an end time (if present) is not before the start.
func (c *call) notBefore(field string, end, start scoring.Time, startField string) *RejectError {
	if end != 0 && end < start {
		return c.reject(RejectTime, field, "is before "+startField)
	}
	return nil
}

// later checks that an until (if present) is strictly after the start.
func (c *call) later(field string, end, start scoring.Time, startField string) *RejectError {
	if end != 0 && end <= start {
		return c.reject(RejectTime, field, "must be after "+startField)
	}
	return nil
}

// intern returns a string equal to b, shared with earlier calls: for the
// few distinct sources, countries and region codes.
func (sc *scratch) intern(b []byte) string {
	if s, ok := sc.strs[string(b)]; ok {
		return s
	}
	if len(sc.strs) >= internMax {
		clear(sc.strs)
	}
	s := string(b)
	sc.strs[s] = s
	return s
}

// shortDuration writes d without trailing zero units ("24h", "90m").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
