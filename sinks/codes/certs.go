package codes

import (
	"hash/fnv"
	"slices"
	"time"

	"healthcode/scoring"
	"healthcode/sinks/codes/token"
)

// Limits of a certificate, so that its token fits a QR code comfortably: the
// most recent tests and doses.
const (
	maxCertTests = 10
	maxCertDoses = 10
)

// fact is one test or vaccination of a person, in a per-shard list linked by
// next (index+1 in certs.facts, 0 ends). Pointer free. 24 bytes.
type fact struct {
	next    uint32
	at      scoring.Time // sampled (tests) or given (vaccinations)
	id      uint64       // FNV-1a of the upstream event id: duplicates are ignored
	product uint16       // index in certs.products (vaccinations)
	kind    scoring.Kind
	sub     uint8 // TestKind
	result  scoring.Result
	dose    uint8
}

// certs holds a shard's certificate facts; the shard's mu protects it.
type certs struct {
	heads    map[scoring.PersonKey]uint32
	facts    []fact
	products []string
	prodIDs  map[string]uint16
}

func (c *certs) init() {
	c.heads = map[scoring.PersonKey]uint32{}
	c.prodIDs = map[string]uint16{}
}

// ApplyEvent keeps a test or vaccination event for the certificate; other
// kinds are ignored. It reports whether the event was new.
func (s *Store) ApplyEvent(ev *scoring.Event) bool {
	if ev.Kind != scoring.KindTest && ev.Kind != scoring.KindVaccination {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(ev.ID))
	f := fact{at: ev.At, id: h.Sum64(), kind: ev.Kind, sub: ev.Sub, result: ev.Result, dose: ev.Dose}
	sh := s.shard(&ev.Person)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := &sh.certs
	head := c.heads[ev.Person]
	for i := head; i != 0; i = c.facts[i-1].next {
		if o := &c.facts[i-1]; o.id == f.id && o.kind == f.kind {
			return false
		}
	}
	if ev.Kind == scoring.KindVaccination {
		p, ok := c.prodIDs[ev.Text]
		if !ok && len(c.products) < 1<<16 {
			p = uint16(len(c.products))
			c.products = append(c.products, ev.Text)
			c.prodIDs[ev.Text] = p
		}
		f.product = p
	}
	f.next = head
	c.facts = append(c.facts, f)
	c.heads[ev.Person] = uint32(len(c.facts))
	return true
}

var (
	testKinds   = [...]string{scoring.TestPCR: "pcr", scoring.TestAntigen: "antigen", scoring.TestIgG: "igg", scoring.TestIgM: "igm"}
	testResults = [...]string{scoring.ResultNegative: "negative", scoring.ResultPositive: "positive", scoring.ResultInconclusive: "inconclusive"}
)

func name(names []string, i int) string {
	if i > 0 && i < len(names) {
		return names[i]
	}
	return "unknown"
}

// Certificate returns the "ithc" claim of k: its most recent tests, sampled
// first, and its doses, in order. The order of arrival does not matter:
// facts are sorted by time, then kind, then event id hash.
func (s *Store) Certificate(k scoring.PersonKey, loc *time.Location) *token.Certificate {
	sh := s.shard(&k)
	sh.mu.RLock()
	c := &sh.certs
	var fs []fact
	for i := c.heads[k]; i != 0; i = c.facts[i-1].next {
		fs = append(fs, c.facts[i-1])
	}
	products := c.products // append-only: the elements read below never change
	sh.mu.RUnlock()
	slices.SortFunc(fs, func(a, b fact) int {
		switch {
		case a.at != b.at:
			return int(int64(a.at) - int64(b.at))
		case a.kind != b.kind:
			return int(a.kind) - int(b.kind)
		case a.sub != b.sub:
			return int(a.sub) - int(b.sub)
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	cert := &token.Certificate{Tests: []token.Test{}, Vaccinations: []token.Vaccination{}}
	for _, f := range fs {
		switch f.kind {
		case scoring.KindTest:
			cert.Tests = append(cert.Tests, token.Test{Kind: name(testKinds[:], int(f.sub)),
				Result: name(testResults[:], int(f.result)), SampledAt: f.at.Std().Unix()})
		case scoring.KindVaccination:
			cert.Vaccinations = append(cert.Vaccinations, token.Vaccination{Product: products[f.product],
				Dose: int(f.dose), Date: f.at.Std().In(loc).Format(time.DateOnly)})
		}
	}
	if n := len(cert.Tests); n > maxCertTests {
		cert.Tests = cert.Tests[n-maxCertTests:]
	}
	if n := len(cert.Vaccinations); n > maxCertDoses {
		cert.Vaccinations = cert.Vaccinations[n-maxCertDoses:]
	}
	return cert
}
