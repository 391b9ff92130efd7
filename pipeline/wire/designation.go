package wire

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"healthcode/scoring"
)

// Header of an hc.area-risk message: magic "hcd" and the version.
const (
	designationMagic   = "hcd"
	designationVersion = 1
)

// maxDesignationString bounds Code and ID. Real values are a few dozen bytes
// (an alpha-3 code, a six-digit region, a 15-character H3 index, an event id).
const maxDesignationString = 1 << 10

// EncodeDesignation encodes d as one hc.area-risk message.
//
// The format is a small fixed binary record rather than JSON, although the
// topic carries only a few messages a day: it shares the header and version
// scheme of hc.person-events, it round-trips Cell (a uint64 above 2^53, which
// many JSON tools silently round) exactly, and a strict decoder is a few
// bounds checks, easy to fuzz. Layout after the header, integers little-endian:
//
//	kind u8 | level u8 | from u32 | until u32 | cell u64 | code (uvarint length + bytes) | id (uvarint length + bytes)
func EncodeDesignation(d scoring.Designation) ([]byte, error) {
	if len(d.Code) > maxDesignationString || len(d.ID) > maxDesignationString {
		return nil, fmt.Errorf("encode designation: code or id longer than %d bytes", maxDesignationString)
	}
	b := make([]byte, 0, headerLen+18+4+len(d.Code)+len(d.ID))
	b = append(b, designationMagic...)
	b = append(b, designationVersion, byte(d.Kind), byte(d.Level))
	b = binary.LittleEndian.AppendUint32(b, uint32(d.From))
	b = binary.LittleEndian.AppendUint32(b, uint32(d.Until))
	b = binary.LittleEndian.AppendUint64(b, d.Cell)
	b = binary.AppendUvarint(b, uint64(len(d.Code)))
	b = append(b, d.Code...)
	b = binary.AppendUvarint(b, uint64(len(d.ID)))
	b = append(b, d.ID...)
	return b, nil
}

// DecodeDesignation decodes one hc.area-risk message. It checks framing only:
// whether Kind and Level are meaningful is for the consumer to judge. Errors
// wrap ErrMalformed or ErrVersion.
func DecodeDesignation(b []byte) (scoring.Designation, error) {
	var d scoring.Designation
	rest, err := checkHeader(b, designationMagic, designationVersion)
	if err != nil {
		return d, fmt.Errorf("decode designation: %w", err)
	}
	if len(rest) < 18 {
		return d, fmt.Errorf("decode designation: %w: %d bytes", ErrMalformed, len(b))
	}
	le := binary.LittleEndian
	d.Kind = scoring.AreaKind(rest[0])
	d.Level = scoring.RiskLevel(rest[1])
	d.From = scoring.Time(le.Uint32(rest[2:]))
	d.Until = scoring.Time(le.Uint32(rest[6:]))
	d.Cell = le.Uint64(rest[10:])
	rest = rest[18:]
	if d.Code, rest, err = readString(rest); err != nil {
		return scoring.Designation{}, fmt.Errorf("decode designation code: %w", err)
	}
	if d.ID, rest, err = readString(rest); err != nil {
		return scoring.Designation{}, fmt.Errorf("decode designation id: %w", err)
	}
	if len(rest) != 0 {
		return scoring.Designation{}, fmt.Errorf("decode designation: %w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return d, nil
}

// readString reads a uvarint length, in its shortest form (so that every
// designation has exactly one encoding), and that many bytes.
func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k != (bits.Len64(n|1)+6)/7 || n > maxDesignationString || n > uint64(len(b)-k) {
		return "", nil, fmt.Errorf("%w: bad string length", ErrMalformed)
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}
