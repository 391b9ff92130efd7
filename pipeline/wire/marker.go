package wire

import (
	"encoding/binary"
	"fmt"

	"healthcode/scoring"
)

// markerKey is the scoring changelog's key for a partition's progress
// marker. Person keys are 16 bytes, so it cannot collide with a state record.
const markerKey = "\x00next-offset"

// Marker is a scoring partition's progress on its changelog
// (hc.scoring-state): every hc.person-events message below Next is reflected
// in the state records before the marker, and Clock is the partition's event
// clock at that point.
type Marker struct {
	Next  int64        // offset of the next hc.person-events message not yet reflected; >= 0
	Clock scoring.Time // highest occurred_at seen upstream
}

// markerLen is the size of an encoded marker.
const markerLen = 12

// MarkerKey returns the changelog key of progress markers (a fresh copy).
func MarkerKey() []byte { return []byte(markerKey) }

// IsMarkerKey reports whether a changelog key is the progress marker's.
func IsMarkerKey(key []byte) bool { return string(key) == markerKey }

// EncodeMarker encodes m as a changelog value: Next as a big-endian uint64 and
// Clock as a big-endian uint32, 12 bytes. Unlike the other formats of this
// package it has no magic and version header: its key names it, and
// changelogs written before this package held the codec must still restore.
// A change of layout needs a new key.
func EncodeMarker(m Marker) ([]byte, error) {
	if m.Next < 0 {
		return nil, fmt.Errorf("encode marker: negative offset %d", m.Next)
	}
	b := binary.BigEndian.AppendUint64(make([]byte, 0, markerLen), uint64(m.Next))
	return binary.BigEndian.AppendUint32(b, uint32(m.Clock)), nil
}

// DecodeMarker decodes a progress marker. Errors wrap ErrMalformed.
func DecodeMarker(b []byte) (Marker, error) {
	if len(b) != markerLen {
		return Marker{}, fmt.Errorf("decode marker: %w: %d bytes, want %d", ErrMalformed, len(b), markerLen)
	}
	next := binary.BigEndian.Uint64(b)
	if next > 1<<63-1 {
		return Marker{}, fmt.Errorf("decode marker: %w: offset out of range", ErrMalformed)
	}
	return Marker{Next: int64(next), Clock: scoring.Time(binary.BigEndian.Uint32(b[8:]))}, nil
}
