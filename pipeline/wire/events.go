package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/endian"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"healthcode/scoring"
)

// Header of an hc.person-events message: magic "hce" and the version.
// Version 2 is written; versions 1 and 2 are read.
const (
	eventsMagic   = "hce"
	eventsVersion = 2
	headerLen     = 4
)

// Columns of an events record batch, in schema order: the fixed-width
// columns, then the five string columns. Version 1 has the first twelve fixed
// columns (person to cell) and the strings; version 2 adds first, version and
// flags (bit 0: retracted) before the strings. All are non-nullable; a
// different set of columns is a new version.
const (
	colPerson = iota
	colKind
	colSub
	colResult
	colLevel
	colDose
	colSymptoms
	colTempDeci
	colRow
	colAt
	colEnd
	colCell
	colFirst   // v2
	colVersion // v2
	colFlags   // v2
	numFixed
)

// The string columns, as offsets from a format's first string column.
const (
	strCountry = iota
	strPlace
	strID
	strSource
	strText
	numStr
)

// numFixedV1 is the number of fixed-width columns of version 1.
const numFixedV1 = colFirst

// colWidths are the byte widths of the fixed-width columns.
var colWidths = [numFixed]int{16, 1, 1, 1, 1, 1, 1, 2, 2, 4, 4, 8, 4, 8, 1}

// flagRetracted is bit 0 of the flags column.
const flagRetracted = 1

// eventsFormat is one version's schema and the exact bytes of its IPC schema
// message, which a decoder requires verbatim (see DecodeEvents).
type eventsFormat struct {
	version   byte
	fixed     int // fixed-width columns; the strings follow
	schema    *arrow.Schema
	schemaMsg []byte
}

func newFormat(version byte, fixed int) (*eventsFormat, error) {
	u8 := arrow.PrimitiveTypes.Uint8
	str := arrow.BinaryTypes.String
	all := [numFixed]arrow.Field{
		colPerson:   {Name: "person", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}},
		colKind:     {Name: "kind", Type: u8},
		colSub:      {Name: "sub", Type: u8},
		colResult:   {Name: "result", Type: u8},
		colLevel:    {Name: "level", Type: u8},
		colDose:     {Name: "dose", Type: u8},
		colSymptoms: {Name: "symptoms", Type: u8},
		colTempDeci: {Name: "temp_deci", Type: arrow.PrimitiveTypes.Int16},
		colRow:      {Name: "row", Type: arrow.PrimitiveTypes.Int16},
		colAt:       {Name: "at", Type: arrow.PrimitiveTypes.Uint32},
		colEnd:      {Name: "end", Type: arrow.PrimitiveTypes.Uint32},
		colCell:     {Name: "cell", Type: arrow.PrimitiveTypes.Uint64},
		colFirst:    {Name: "first", Type: arrow.PrimitiveTypes.Uint32},
		colVersion:  {Name: "version", Type: arrow.PrimitiveTypes.Uint64},
		colFlags:    {Name: "flags", Type: u8},
	}
	fields := append([]arrow.Field{}, all[:fixed]...)
	for _, n := range [numStr]string{"country", "place", "id", "source", "text"} {
		fields = append(fields, arrow.Field{Name: n, Type: str})
	}
	f := &eventsFormat{version: version, fixed: fixed, schema: arrow.NewSchemaWithEndian(fields, nil, endian.LittleEndian)}
	// The schema message is the first message of any stream we write.
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(f.schema))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	msgs, err := scanIPC(buf.Bytes())
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("scan own schema message: %v", err)
	}
	f.schemaMsg = buf.Bytes()[:msgs[0].end]
	return f, nil
}

// The formats are built once; they are immutable afterwards.
var (
	formatV1 = sync.OnceValues(func() (*eventsFormat, error) { return newFormat(1, numFixedV1) })
	formatV2 = sync.OnceValues(func() (*eventsFormat, error) { return newFormat(2, numFixed) })
)

// EncodeEvents encodes evs as one hc.person-events message: the header, then
// one Arrow IPC stream with the schema and one record batch of len(evs) rows
// (none for an empty slice is still a valid batch of zero rows). Integers are
// little-endian; strings are plain UTF-8 columns without dictionaries.
func EncodeEvents(evs []scoring.Event) ([]byte, error) {
	f, err := formatV2()
	if err != nil {
		return nil, err
	}
	n := len(evs)
	var strLen [numStr]int
	for i := range evs {
		e := &evs[i]
		strLen[strCountry] += len(e.Country)
		strLen[strPlace] += len(e.Place)
		strLen[strID] += len(e.ID)
		strLen[strSource] += len(e.Source)
		strLen[strText] += len(e.Text)
	}
	for _, l := range strLen {
		if l > math.MaxInt32 {
			return nil, fmt.Errorf("encode events: %d bytes of strings in one column exceed the 2 GiB of an arrow string column", l)
		}
	}

	// One allocation for the fixed-width columns (55 bytes per event), then
	// (n+1) int32 offsets per string column.
	width := 0
	for _, w := range colWidths {
		width += w
	}
	fixed := make([]byte, width*n+numStr*4*(n+1))
	var cols [numFixed][]byte
	rest := fixed
	for c, w := range colWidths {
		cols[c], rest = rest[:w*n], rest[w*n:]
	}
	var offs, data [numStr][]byte
	for i := range offs {
		offs[i], rest = rest[:4*(n+1)], rest[4*(n+1):]
		data[i] = make([]byte, 0, strLen[i])
	}

	le := binary.LittleEndian
	for i := range evs {
		e := &evs[i]
		copy(cols[colPerson][16*i:], e.Person[:])
		cols[colKind][i] = uint8(e.Kind)
		cols[colSub][i] = e.Sub
		cols[colResult][i] = uint8(e.Result)
		cols[colLevel][i] = e.Level
		cols[colDose][i] = e.Dose
		cols[colSymptoms][i] = e.Symptoms
		le.PutUint16(cols[colTempDeci][2*i:], uint16(e.TempDeci))
		le.PutUint16(cols[colRow][2*i:], uint16(e.Row))
		le.PutUint32(cols[colAt][4*i:], uint32(e.At))
		le.PutUint32(cols[colEnd][4*i:], uint32(e.End))
		le.PutUint64(cols[colCell][8*i:], e.Cell)
		le.PutUint32(cols[colFirst][4*i:], uint32(e.First))
		le.PutUint64(cols[colVersion][8*i:], e.Version)
		if e.Retracted {
			cols[colFlags][i] = flagRetracted
		}
		for c, s := range [numStr]string{e.Country, e.Place, e.ID, e.Source, e.Text} {
			data[c] = append(data[c], s...)
			le.PutUint32(offs[c][4*(i+1):], uint32(len(data[c])))
		}
	}

	arrs := make([]arrow.Array, f.fixed+numStr)
	mk := func(c int, bufs ...[]byte) {
		mb := make([]*memory.Buffer, 1, 3) // no validity bitmap: no nulls
		for _, b := range bufs {
			mb = append(mb, memory.NewBufferBytes(b))
		}
		arrs[c] = array.MakeFromData(array.NewData(f.schema.Field(c).Type, n, mb, nil, 0, 0))
	}
	for c := range cols {
		mk(c, cols[c])
	}
	for i := range offs {
		mk(f.fixed+i, offs[i], data[i])
	}
	rec := array.NewRecord(f.schema, arrs, int64(n))
	for _, c := range arrs {
		c.Release()
	}
	defer rec.Release()

	var out bytes.Buffer
	out.Grow(headerLen + len(f.schemaMsg) + 1024 + len(fixed) + strLen[0] + strLen[1] + strLen[2] + strLen[3] + strLen[4])
	out.WriteString(eventsMagic)
	out.WriteByte(eventsVersion)
	w := ipc.NewWriter(&out, ipc.WithSchema(f.schema))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("encode events: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode events: %w", err)
	}
	return out.Bytes(), nil
}

// DecodeEvents decodes one hc.person-events message of version 1 or 2 and
// appends its events to dst (a version 1 event has First, Version and
// Retracted zero). On error it returns dst unchanged (same length) and an error wrapping
// ErrMalformed or ErrVersion.
//
// The input is checked before Arrow sees it: the IPC framing is walked so that
// no message claims more bytes than the input holds, the schema message must be
// byte for byte the one EncodeEvents writes, and every other message must be an
// uncompressed record batch, then the end-of-stream marker. Arrow allocates
// through an allocator whose budget is bounded by the input's size, and any panic it raises on a
// corrupt record batch is recovered into an error. Column buffers are bounds
// checked before use. A record batch with nulls is refused (EncodeEvents writes
// none).
//
// The strings of one decoded column share a single allocation, so keeping one
// of them keeps that column's bytes alive; a consumer that keeps strings for long
// should copy them (scoring copies into its arena).
func DecodeEvents(b []byte, dst []scoring.Event) (out []scoring.Event, err error) {
	n0 := len(dst)
	defer func() {
		if r := recover(); r != nil {
			out, err = dst[:n0], fmt.Errorf("decode events: %w: %v", ErrMalformed, r)
		}
	}()
	out, err = decodeEvents(b, dst)
	if err != nil {
		return dst[:n0], fmt.Errorf("decode events: %w", err)
	}
	return out, nil
}

func decodeEvents(b []byte, dst []scoring.Event) ([]scoring.Event, error) {
	var f *eventsFormat
	var err error
	if len(b) >= headerLen && string(b[:3]) == eventsMagic && b[3] == 1 {
		f, err = formatV1()
	} else {
		f, err = formatV2()
	}
	if err != nil {
		return dst, err
	}
	stream, err := checkHeader(b, eventsMagic, f.version)
	if err != nil {
		return dst, err
	}
	msgs, err := scanIPC(stream)
	if err != nil {
		return dst, err
	}
	if len(msgs) == 0 || !bytes.Equal(stream[:msgs[0].end], f.schemaMsg) {
		return dst, fmt.Errorf("%w: not the version %d events schema", ErrMalformed, f.version)
	}
	for _, m := range msgs[1:] {
		if m.header != headerRecordBatch || m.compressed {
			return dst, fmt.Errorf("%w: message %d: want an uncompressed record batch", ErrMalformed, m.header)
		}
	}
	rdr, err := ipc.NewReader(bytes.NewReader(stream), ipc.WithSchema(f.schema), ipc.WithAllocator(newBudgetAllocator(len(stream))))
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer rdr.Release()
	for rdr.Next() {
		if dst, err = appendRecord(dst, f, rdr.Record()); err != nil {
			return dst, err
		}
	}
	if err := rdr.Err(); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return dst, nil
}

// appendRecord appends the rows of one record batch of format f, checking
// every buffer's size against the row count first.
func appendRecord(dst []scoring.Event, f *eventsFormat, rec arrow.Record) ([]scoring.Event, error) {
	ncols := f.fixed + numStr
	if int(rec.NumCols()) != ncols {
		return dst, fmt.Errorf("%w: %d columns", ErrMalformed, rec.NumCols())
	}
	rows := rec.NumRows()
	if rows < 0 || rows > math.MaxInt32 {
		return dst, fmt.Errorf("%w: %d rows", ErrMalformed, rows)
	}
	n := int(rows)
	var cols [numFixed][]byte // fixed-width values
	var offs [numStr][]byte   // string offsets
	var strs [numStr]string
	for c := 0; c < ncols; c++ {
		d := rec.Column(c).Data()
		if d.Len() != n || d.NullN() != 0 {
			return dst, fmt.Errorf("%w: column %d: %d values, %d nulls in %d rows", ErrMalformed, c, d.Len(), d.NullN(), n)
		}
		if n == 0 {
			continue
		}
		bufs, off := d.Buffers(), d.Offset()
		if c < f.fixed {
			v, err := bufSlice(bufs, 1, off*colWidths[c], n*colWidths[c])
			if err != nil {
				return dst, fmt.Errorf("column %d: %w", c, err)
			}
			cols[c] = v
			continue
		}
		o, err := bufSlice(bufs, 1, 4*off, 4*(n+1))
		if err != nil {
			return dst, fmt.Errorf("column %d offsets: %w", c, err)
		}
		var data []byte
		if len(bufs) > 2 && bufs[2] != nil {
			data = bufs[2].Bytes()
		}
		// Offsets must start within data and never decrease; then every
		// value lies within [first, last].
		first := int64(int32(binary.LittleEndian.Uint32(o)))
		prev := first
		for i := 1; i <= n; i++ {
			v := int64(int32(binary.LittleEndian.Uint32(o[4*i:])))
			if v < prev {
				return dst, fmt.Errorf("%w: column %d: decreasing string offsets", ErrMalformed, c)
			}
			prev = v
		}
		if first < 0 || prev > int64(len(data)) {
			return dst, fmt.Errorf("%w: column %d: string offsets outside %d data bytes", ErrMalformed, c, len(data))
		}
		offs[c-f.fixed] = o
		strs[c-f.fixed] = string(data[first:prev])
	}

	dst = growEvents(dst, n)
	out := dst[len(dst) : len(dst)+n]
	le := binary.LittleEndian
	for i := range out {
		e := &out[i]
		*e = scoring.Event{
			Kind:     scoring.Kind(cols[colKind][i]),
			Sub:      cols[colSub][i],
			Result:   scoring.Result(cols[colResult][i]),
			Level:    cols[colLevel][i],
			Dose:     cols[colDose][i],
			Symptoms: cols[colSymptoms][i],
			TempDeci: int16(le.Uint16(cols[colTempDeci][2*i:])),
			Row:      int16(le.Uint16(cols[colRow][2*i:])),
			At:       scoring.Time(le.Uint32(cols[colAt][4*i:])),
			End:      scoring.Time(le.Uint32(cols[colEnd][4*i:])),
			Cell:     le.Uint64(cols[colCell][8*i:]),
		}
		if f.fixed > colFlags {
			e.First = scoring.Time(le.Uint32(cols[colFirst][4*i:]))
			e.Version = le.Uint64(cols[colVersion][8*i:])
			e.Retracted = cols[colFlags][i]&flagRetracted != 0
		}
		copy(e.Person[:], cols[colPerson][16*i:16*i+16])
		for c := range offs {
			o := offs[c]
			base := int32(le.Uint32(o))
			lo, hi := int32(le.Uint32(o[4*i:]))-base, int32(le.Uint32(o[4*i+4:]))-base
			s := strs[c][lo:hi]
			switch c {
			case strCountry:
				e.Country = s
			case strPlace:
				e.Place = s
			case strID:
				e.ID = s
			case strSource:
				e.Source = s
			case strText:
				e.Text = s
			}
		}
	}
	return dst[:len(dst)+n], nil
}

// bufSlice returns size bytes of buffer i from byte offset off, or an error if
// the buffer is missing or too short.
func bufSlice(bufs []*memory.Buffer, i, off, size int) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if i >= len(bufs) || bufs[i] == nil {
		return nil, fmt.Errorf("%w: missing buffer %d", ErrMalformed, i)
	}
	b := bufs[i].Bytes()
	if off < 0 || off > len(b) || size > len(b)-off {
		return nil, fmt.Errorf("%w: buffer %d holds %d bytes, need %d from %d", ErrMalformed, i, len(b), size, off)
	}
	return b[off : off+size], nil
}

// growEvents makes room for n more events without changing len(dst).
func growEvents(dst []scoring.Event, n int) []scoring.Event {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]scoring.Event, len(dst), len(dst)+n+len(dst)/4)
	copy(grown, dst)
	return grown
}

// checkHeader checks the four-byte header and returns what follows it.
func checkHeader(b []byte, magic string, version byte) ([]byte, error) {
	if len(b) < headerLen || string(b[:3]) != magic {
		return nil, fmt.Errorf("%w: no %q header", ErrMalformed, magic)
	}
	if b[3] != version {
		return nil, fmt.Errorf("%w: %q version %d (this build reads %d)", ErrVersion, magic, b[3], version)
	}
	return b[headerLen:], nil
}
