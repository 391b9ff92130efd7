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
const (
	eventsMagic   = "hce"
	eventsVersion = 1
	headerLen     = 4
)

// Columns of an events record batch, in schema order. Version 1 has exactly
// these, all non-nullable; a different set of columns is a new version.
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
	colCountry
	colPlace
	colID
	colSource
	colText
	numCols
)

// firstStrCol is the first of the five string columns, which are last.
const firstStrCol = colCountry

// eventsFormat is the version 1 schema and the exact bytes of its IPC schema
// message, which a decoder requires verbatim (see DecodeEvents).
type eventsFormat struct {
	schema    *arrow.Schema
	schemaMsg []byte
}

// formatV1 builds the format once; it is immutable afterwards.
var formatV1 = sync.OnceValues(func() (*eventsFormat, error) {
	u8 := arrow.PrimitiveTypes.Uint8
	str := arrow.BinaryTypes.String
	fields := []arrow.Field{
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
		colCountry:  {Name: "country", Type: str},
		colPlace:    {Name: "place", Type: str},
		colID:       {Name: "id", Type: str},
		colSource:   {Name: "source", Type: str},
		colText:     {Name: "text", Type: str},
	}
	f := &eventsFormat{schema: arrow.NewSchemaWithEndian(fields, nil, endian.LittleEndian)}
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
})

// EncodeEvents encodes evs as one hc.person-events message: the header, then
// one Arrow IPC stream with the schema and one record batch of len(evs) rows
// (none for an empty slice is still a valid batch of zero rows). Integers are
// little-endian; strings are plain UTF-8 columns without dictionaries.
func EncodeEvents(evs []scoring.Event) ([]byte, error) {
	f, err := formatV1()
	if err != nil {
		return nil, err
	}
	n := len(evs)
	var strLen [numCols - firstStrCol]int
	for i := range evs {
		e := &evs[i]
		strLen[0] += len(e.Country)
		strLen[1] += len(e.Place)
		strLen[2] += len(e.ID)
		strLen[3] += len(e.Source)
		strLen[4] += len(e.Text)
	}
	for _, l := range strLen {
		if l > math.MaxInt32 {
			return nil, fmt.Errorf("encode events: %d bytes of strings in one column exceed the 2 GiB of an arrow string column", l)
		}
	}

	// One allocation for the fixed-width columns: 16 + 6×1 + 2×2 + 2×4 + 8 = 42
	// bytes per event, then (n+1) int32 offsets per string column.
	fixed := make([]byte, 42*n+5*4*(n+1))
	person, rest := fixed[:16*n], fixed[16*n:]
	var u8 [colTempDeci - colKind][]byte
	for i := range u8 {
		u8[i], rest = rest[:n], rest[n:]
	}
	temp, rest := rest[:2*n], rest[2*n:]
	row, rest := rest[:2*n], rest[2*n:]
	at, rest := rest[:4*n], rest[4*n:]
	end, rest := rest[:4*n], rest[4*n:]
	cell, rest := rest[:8*n], rest[8*n:]
	var offs, data [numCols - firstStrCol][]byte
	for i := range offs {
		offs[i], rest = rest[:4*(n+1)], rest[4*(n+1):]
		data[i] = make([]byte, 0, strLen[i])
	}

	le := binary.LittleEndian
	for i := range evs {
		e := &evs[i]
		copy(person[16*i:], e.Person[:])
		u8[colKind-colKind][i] = uint8(e.Kind)
		u8[colSub-colKind][i] = e.Sub
		u8[colResult-colKind][i] = uint8(e.Result)
		u8[colLevel-colKind][i] = e.Level
		u8[colDose-colKind][i] = e.Dose
		u8[colSymptoms-colKind][i] = e.Symptoms
		le.PutUint16(temp[2*i:], uint16(e.TempDeci))
		le.PutUint16(row[2*i:], uint16(e.Row))
		le.PutUint32(at[4*i:], uint32(e.At))
		le.PutUint32(end[4*i:], uint32(e.End))
		le.PutUint64(cell[8*i:], e.Cell)
		for c, s := range [...]string{e.Country, e.Place, e.ID, e.Source, e.Text} {
			data[c] = append(data[c], s...)
			le.PutUint32(offs[c][4*(i+1):], uint32(len(data[c])))
		}
	}

	cols := make([]arrow.Array, numCols)
	mk := func(c int, bufs ...[]byte) {
		mb := make([]*memory.Buffer, 1, 3) // no validity bitmap: no nulls
		for _, b := range bufs {
			mb = append(mb, memory.NewBufferBytes(b))
		}
		cols[c] = array.MakeFromData(array.NewData(f.schema.Field(c).Type, n, mb, nil, 0, 0))
	}
	mk(colPerson, person)
	for i := range u8 {
		mk(colKind+i, u8[i])
	}
	mk(colTempDeci, temp)
	mk(colRow, row)
	mk(colAt, at)
	mk(colEnd, end)
	mk(colCell, cell)
	for i := range offs {
		mk(firstStrCol+i, offs[i], data[i])
	}
	rec := array.NewRecord(f.schema, cols, int64(n))
	for _, c := range cols {
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

// DecodeEvents decodes one hc.person-events message and appends its events to
// dst. On error it returns dst unchanged (same length) and an error wrapping
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
	stream, err := checkHeader(b, eventsMagic, eventsVersion)
	if err != nil {
		return dst, err
	}
	f, err := formatV1()
	if err != nil {
		return dst, err
	}
	msgs, err := scanIPC(stream)
	if err != nil {
		return dst, err
	}
	if len(msgs) == 0 || !bytes.Equal(stream[:msgs[0].end], f.schemaMsg) {
		return dst, fmt.Errorf("%w: not the version %d events schema", ErrMalformed, eventsVersion)
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
		if dst, err = appendRecord(dst, rdr.Record()); err != nil {
			return dst, err
		}
	}
	if err := rdr.Err(); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return dst, nil
}

// appendRecord appends the rows of one record batch, checking every buffer's
// size against the row count first.
func appendRecord(dst []scoring.Event, rec arrow.Record) ([]scoring.Event, error) {
	if rec.NumCols() != numCols {
		return dst, fmt.Errorf("%w: %d columns", ErrMalformed, rec.NumCols())
	}
	rows := rec.NumRows()
	if rows < 0 || rows > math.MaxInt32 {
		return dst, fmt.Errorf("%w: %d rows", ErrMalformed, rows)
	}
	n := int(rows)
	var cols [numCols][]byte // fixed-width values, or string offsets
	var strs [numCols - firstStrCol]string
	widths := [firstStrCol]int{16, 1, 1, 1, 1, 1, 1, 2, 2, 4, 4, 8}
	for c := 0; c < numCols; c++ {
		d := rec.Column(c).Data()
		if d.Len() != n || d.NullN() != 0 {
			return dst, fmt.Errorf("%w: column %d: %d values, %d nulls in %d rows", ErrMalformed, c, d.Len(), d.NullN(), n)
		}
		if n == 0 {
			continue
		}
		bufs, off := d.Buffers(), d.Offset()
		if c < firstStrCol {
			v, err := bufSlice(bufs, 1, off*widths[c], n*widths[c])
			if err != nil {
				return dst, fmt.Errorf("column %d: %w", c, err)
			}
			cols[c] = v
			continue
		}
		offs, err := bufSlice(bufs, 1, 4*off, 4*(n+1))
		if err != nil {
			return dst, fmt.Errorf("column %d offsets: %w", c, err)
		}
		var data []byte
		if len(bufs) > 2 && bufs[2] != nil {
			data = bufs[2].Bytes()
		}
		// Offsets must start within data and never decrease; then every
		// value lies within [first, last].
		first := int64(int32(binary.LittleEndian.Uint32(offs)))
		prev := first
		for i := 1; i <= n; i++ {
			o := int64(int32(binary.LittleEndian.Uint32(offs[4*i:])))
			if o < prev {
				return dst, fmt.Errorf("%w: column %d: decreasing string offsets", ErrMalformed, c)
			}
			prev = o
		}
		if first < 0 || prev > int64(len(data)) {
			return dst, fmt.Errorf("%w: column %d: string offsets outside %d data bytes", ErrMalformed, c, len(data))
		}
		cols[c] = offs
		strs[c-firstStrCol] = string(data[first:prev])
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
		copy(e.Person[:], cols[colPerson][16*i:16*i+16])
		for c := firstStrCol; c < numCols; c++ {
			offs := cols[c]
			base := int32(le.Uint32(offs))
			lo, hi := int32(le.Uint32(offs[4*i:]))-base, int32(le.Uint32(offs[4*i+4:]))-base
			s := strs[c-firstStrCol][lo:hi]
			switch c {
			case colCountry:
				e.Country = s
			case colPlace:
				e.Place = s
			case colID:
				e.ID = s
			case colSource:
				e.Source = s
			case colText:
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
