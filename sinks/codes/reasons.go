package codes

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"healthcode/scoring"
	"healthcode/sinks"
)

// reasonKey is what persons with the same reason share: the rule and its texts.
type reasonKey struct{ rule, en, zh, clears, clearsZH string }

// A person's reasons in a shard's arena: uvarint count, then per reason
// uvarint template id, uvarint until (scoring.Time, 0 none), uvarint
// evidence count, and each evidence id as uvarint length and bytes.

// appendReasons appends the arena entry of rs to dst.
func (s *Store) appendReasons(dst []byte, rs []sinks.Reason) ([]byte, error) {
	if len(rs) == 0 {
		return dst, nil
	}
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	for i := range rs {
		r := &rs[i]
		var until scoring.Time
		if r.Until != "" {
			t, err := time.Parse(time.RFC3339, r.Until)
			if err != nil {
				return nil, fmt.Errorf("%w: reasons[%d].until is not RFC 3339", ErrUpdate, i)
			}
			if until, err = scoring.TimeOf(t); err != nil {
				return nil, fmt.Errorf("%w: reasons[%d].until: %v", ErrUpdate, i, err)
			}
		}
		dst = binary.AppendUvarint(dst, uint64(s.template(reasonKey{r.Rule, r.TextEN, r.TextZH, r.ClearsWhen, r.ClearsWhenZH})))
		dst = binary.AppendUvarint(dst, uint64(until))
		dst = binary.AppendUvarint(dst, uint64(len(r.Evidence)))
		for _, e := range r.Evidence {
			dst = binary.AppendUvarint(dst, uint64(len(e)))
			dst = append(dst, e...)
		}
	}
	return dst, nil
}

// template returns the id of a reason's shared part, adding it if new.
func (s *Store) template(k reasonKey) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.tmplIDs[k]; ok {
		return id
	}
	old := *s.tmpls.Load()
	t := append(old[:len(old):len(old)], sinks.Reason{Rule: k.rule, TextEN: k.en, TextZH: k.zh, ClearsWhen: k.clears, ClearsWhenZH: k.clearsZH})
	s.tmpls.Store(&t)
	s.tmplIDs[k] = uint32(len(t) - 1)
	return uint32(len(t) - 1)
}

// renderReasons decodes an arena entry into rule ids and the reasons JSON
// as the pipeline wrote it (sinks.Reason, times in loc).
func (s *Store) renderReasons(b []byte, loc *time.Location) ([]string, json.RawMessage) {
	tmpls := *s.tmpls.Load()
	n, w := binary.Uvarint(b)
	b = b[w:]
	rules := make([]string, n)
	rs := make([]sinks.Reason, n)
	for i := range rs {
		id, w := binary.Uvarint(b)
		b = b[w:]
		until, w := binary.Uvarint(b)
		b = b[w:]
		ne, w := binary.Uvarint(b)
		b = b[w:]
		rs[i] = tmpls[id]
		rs[i].Until = scoring.Time(until).Format(loc)
		rs[i].Evidence = make([]string, ne)
		for j := range rs[i].Evidence {
			l, w := binary.Uvarint(b)
			rs[i].Evidence[j] = string(b[w : w+int(l)])
			b = b[w+int(l):]
		}
		rules[i] = rs[i].Rule
	}
	out, err := json.Marshal(rs)
	if err != nil {
		return rules, emptyReasons
	}
	return rules, out
}

// reasonsLen returns the length of the arena entry at the start of b.
func reasonsLen(b []byte) int {
	total := 0
	next := func() uint64 {
		v, w := binary.Uvarint(b[total:])
		total += w
		return v
	}
	for range next() {
		next()
		next()
		for range next() {
			total += int(next())
		}
	}
	return total
}
