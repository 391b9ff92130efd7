package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"healthcode/scoring"
)

// Header of an hc.overrides message: magic "hco" and the version. Version 2
// ticks name the partitions of src.overrides they report; version 1 records
// still decode (a version 1 tick reports no partition).
const (
	overrideMagic   = "hco"
	overrideVersion = 2
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
// or (Override nil) a tick of the guard's event clock: Tick is the sending
// ingest process's event clock, Parts what it has forwarded of each
// partition of src.overrides it read.
type OverrideRecord struct {
	Override *scoring.Override
	Tick     scoring.Time
	Parts    []TickPart
}

// TickPart is what one ingest process forwarded of one partition of
// src.overrides: every override before offset Next; Last, the lowest
// occurred_at an override still to come there can have (the latest read, or
// at the partition's end ingest's event clock of a second before); and
// whether Next is the partition's end with ingest idle for a second
// (pipeline/override_ingest.go).
type TickPart struct {
	Partition int
	Next      int64
	Last      scoring.Time
	AtEnd     bool
}

// maxTickParts bounds the partitions one tick names.
const maxTickParts = 1 << 16

// EncodeOverrideRecord encodes one hc.overrides message. Layout after the
// header, integers little-endian, strings a shortest-form uvarint length and
// the bytes:
//
//	tick:     2 u8 | at u32 | n uvarint | n × (partition uvarint | next uvarint | last u32 | flags u8 (bit 0: at end))
//	override: 1 u8 | level u8 | at u32 | until u32 | person [16] | officer [16] | approver [16] |
//	          id | source | reason | reason_code | region | confirms
func EncodeOverrideRecord(r OverrideRecord) ([]byte, error) {
	o := r.Override
	if o == nil {
		b := append([]byte(overrideMagic), overrideVersion, tickRecord)
		b = binary.LittleEndian.AppendUint32(b, uint32(r.Tick))
		if len(r.Parts) > maxTickParts {
			return nil, fmt.Errorf("encode tick: more than %d partitions", maxTickParts)
		}
		b = binary.AppendUvarint(b, uint64(len(r.Parts)))
		for _, p := range r.Parts {
			if p.Partition < 0 || p.Partition > maxTickParts || p.Next < 0 || p.Next > 1<<62 {
				return nil, errors.New("encode tick: a partition or offset out of range")
			}
			b = binary.AppendUvarint(b, uint64(p.Partition))
			b = binary.AppendUvarint(b, uint64(p.Next))
			b = binary.LittleEndian.AppendUint32(b, uint32(p.Last))
			var flags byte
			if p.AtEnd {
				flags = 1
			}
			b = append(b, flags)
		}
		return b, nil
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
	if errors.Is(err, ErrVersion) && b[3] == 1 {
		rest, err = b[headerLen:], nil // version 1: the same override, a tick without partitions
	}
	if err != nil {
		return OverrideRecord{}, fmt.Errorf("decode override record: %w", err)
	}
	le := binary.LittleEndian
	switch {
	case b[3] == 1 && len(rest) == 6 && rest[0] == tickRecord && rest[5] <= 1:
		// Its caught-up flag covered only the sender's partitions: not kept.
		return OverrideRecord{Tick: scoring.Time(le.Uint32(rest[1:]))}, nil
	case b[3] != 1 && len(rest) >= 5 && rest[0] == tickRecord:
		return decodeTick(rest)
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

// decodeTick decodes a version 2 tick after the header.
func decodeTick(b []byte) (OverrideRecord, error) {
	r := OverrideRecord{Tick: scoring.Time(binary.LittleEndian.Uint32(b[1:]))}
	b = b[5:]
	n, err := readUvarint(&b)
	if err != nil || n > maxTickParts {
		return OverrideRecord{}, fmt.Errorf("decode tick: %w: bad partition count", ErrMalformed)
	}
	for range n {
		part, err1 := readUvarint(&b)
		next, err2 := readUvarint(&b)
		if err1 != nil || err2 != nil || part > maxTickParts || next > 1<<62 || len(b) < 5 || b[4] > 1 {
			return OverrideRecord{}, fmt.Errorf("decode tick: %w: bad partition", ErrMalformed)
		}
		r.Parts = append(r.Parts, TickPart{Partition: int(part), Next: int64(next),
			Last: scoring.Time(binary.LittleEndian.Uint32(b)), AtEnd: b[4] == 1})
		b = b[5:]
	}
	if len(b) != 0 {
		return OverrideRecord{}, fmt.Errorf("decode tick: %w: %d trailing bytes", ErrMalformed, len(b))
	}
	return r, nil
}

// readUvarint reads a shortest-form uvarint off the front of *b.
func readUvarint(b *[]byte) (uint64, error) {
	n, k := binary.Uvarint(*b)
	if k <= 0 || k != (bits.Len64(n|1)+6)/7 {
		return 0, fmt.Errorf("%w: bad uvarint", ErrMalformed)
	}
	*b = (*b)[k:]
	return n, nil
}

// readOverrideString reads a shortest-form uvarint length and that many bytes.
func readOverrideString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k != (bits.Len64(n|1)+6)/7 || n > maxOverrideString || n > uint64(len(b)-k) {
		return "", nil, fmt.Errorf("%w: bad string length", ErrMalformed)
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}
