package wire

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"healthcode/scoring"
)

// Header of an hc.overrides message: magic "hco" and the version.
const (
	overrideMagic   = "hco"
	overrideVersion = 1
)

// Record types of an hc.overrides message.
const (
	overrideRecord = 1 // an override decoded by ingest
	tickRecord     = 2 // the event clock
)

// maxOverrideString bounds every string of an override record (the reason
// is at most 2,000 bytes upstream).
const maxOverrideString = 4096

// OverrideRecord is one message of hc.overrides: an override for the guard,
// or (Override nil) a tick of the guard's event clock. CaughtUp says that
// ingest had read every override written before the tick, so the guard may
// decide every override it holds.
type OverrideRecord struct {
	Override *scoring.Override
	Tick     scoring.Time
	CaughtUp bool
}

// EncodeOverrideRecord encodes one hc.overrides message. Layout after the
// header, integers little-endian, strings a shortest-form uvarint length and
// the bytes:
//
//	tick:     2 u8 | at u32 | flags u8 (bit 0: caught up)
//	override: 1 u8 | level u8 | at u32 | until u32 | person [16] | officer [16] | approver [16] |
//	          id | source | reason | reason_code | region | confirms
func EncodeOverrideRecord(r OverrideRecord) ([]byte, error) {
	o := r.Override
	if o == nil {
		b := append([]byte(overrideMagic), overrideVersion, tickRecord)
		b = binary.LittleEndian.AppendUint32(b, uint32(r.Tick))
		var flags byte
		if r.CaughtUp {
			flags = 1
		}
		return append(b, flags), nil
	}
	strs := [...]string{o.ID, o.Source, o.Reason, o.ReasonCode, o.Region, o.Confirms}
	n := headerLen + 58
	for _, s := range strs {
		if len(s) > maxOverrideString {
			return nil, fmt.Errorf("encode override: a string is longer than %d bytes", maxOverrideString)
		}
		n += len(s) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, overrideMagic...)
	b = append(b, overrideVersion, overrideRecord, o.Level)
	b = binary.LittleEndian.AppendUint32(b, uint32(o.At))
	b = binary.LittleEndian.AppendUint32(b, uint32(o.Until))
	b = append(b, o.Person[:]...)
	b = append(b, o.Officer[:]...)
	b = append(b, o.Approver[:]...)
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

// DecodeOverrideRecord decodes one hc.overrides message. It checks framing
// only. Errors wrap ErrMalformed or ErrVersion.
func DecodeOverrideRecord(b []byte) (OverrideRecord, error) {
	rest, err := checkHeader(b, overrideMagic, overrideVersion)
	if err != nil {
		return OverrideRecord{}, fmt.Errorf("decode override record: %w", err)
	}
	le := binary.LittleEndian
	switch {
	case len(rest) == 6 && rest[0] == tickRecord && rest[5] <= 1:
		return OverrideRecord{Tick: scoring.Time(le.Uint32(rest[1:])), CaughtUp: rest[5] == 1}, nil
	case len(rest) < 58 || rest[0] != overrideRecord:
		return OverrideRecord{}, fmt.Errorf("decode override record: %w: %d bytes", ErrMalformed, len(b))
	}
	o := &scoring.Override{Level: rest[1], At: scoring.Time(le.Uint32(rest[2:])), Until: scoring.Time(le.Uint32(rest[6:]))}
	copy(o.Person[:], rest[10:26])
	copy(o.Officer[:], rest[26:42])
	copy(o.Approver[:], rest[42:58])
	rest = rest[58:]
	for _, s := range [...]*string{&o.ID, &o.Source, &o.Reason, &o.ReasonCode, &o.Region, &o.Confirms} {
		if *s, rest, err = readOverrideString(rest); err != nil {
			return OverrideRecord{}, fmt.Errorf("decode override record: %w", err)
		}
	}
	if len(rest) != 0 {
		return OverrideRecord{}, fmt.Errorf("decode override record: %w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return OverrideRecord{Override: o}, nil
}

// readOverrideString reads a shortest-form uvarint length and that many bytes.
func readOverrideString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k != (bits.Len64(n|1)+6)/7 || n > maxOverrideString || n > uint64(len(b)-k) {
		return "", nil, fmt.Errorf("%w: bad string length", ErrMalformed)
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}
