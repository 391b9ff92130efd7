package codes

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"healthcode/scoring"
	"healthcode/sinks"
)

// numShards splits the store so that writers and readers of different
// persons rarely share a lock; a power of two.
const numShards = 16

// record is one person's latest colour: fixed size and pointer free, so the
// GC never scans the records slice. 40 bytes.
type record struct {
	key       scoring.PersonKey
	version   uint32
	effective scoring.Time
	review    scoring.Time // 0: nothing pending
	reasons   uint32       // offset in the shard's arena; 0: no reasons
	policy    uint16       // index in Store.names
	colour    uint16       // index in Store.names
	level     uint8
	zone      uint8 // index in Store.zones: the offset the update's times were written in
	declReq   bool  // code_status declaration_required: no code before a declaration
}

// shard holds the records of the persons whose key ends in its number.
type shard struct {
	mu sync.RWMutex // protects everything below
	// index is an open-addressing table (linear probing) of record index+1,
	// 0 for an empty slot; its length is a power of two, at most 3/4 full.
	index   []uint32
	recs    []record
	arena   []byte // reasons, see appendReasons
	garbage int    // arena bytes no record refers to any more
	certs   certs
}

// Store is every person's latest colour update and certificate facts. Apply
// order does not matter: the highest version of a person wins, and an equal
// or lower one is ignored. Safe for concurrent use.
type Store struct {
	shards [numShards]shard

	mu    sync.Mutex               // serialises additions to names, zones and tmpls
	names atomic.Pointer[[]string] // interned policies and colours, copy-on-write
	zones atomic.Pointer[[]int32]  // interned zone offsets in seconds, copy-on-write
	held  atomic.Int64             // persons with a colour
	ids   map[string]uint16        // names' indexes; under mu
	// Reason templates: a reason's rule and texts, which every person with
	// that reason shares (only evidence and until are a person's own).
	tmpls   atomic.Pointer[[]sinks.Reason] // copy-on-write; Evidence and Until unset
	tmplIDs map[reasonKey]uint32           // under mu
}

// NewStore returns an empty store sized for about expected persons (0: grow as needed).
func NewStore(expected int) *Store {
	s := &Store{ids: map[string]uint16{}, tmplIDs: map[reasonKey]uint32{}}
	s.tmpls.Store(&[]sinks.Reason{})
	s.names.Store(&[]string{})
	s.zones.Store(&[]int32{})
	per := expected / numShards
	for i := range s.shards {
		sh := &s.shards[i]
		n := 1024
		for n*3/4 < per {
			n *= 2
		}
		sh.index = make([]uint32, n)
		sh.recs = make([]record, 0, per)
		sh.arena = make([]byte, 1, 4096) // offset 0 means "no reasons"
		sh.certs.init()
	}
	return s
}

func (s *Store) shard(k *scoring.PersonKey) *shard { return &s.shards[k[15]&(numShards-1)] }

// hash is the slot hash of a key: person keys are HMAC outputs, uniformly
// distributed, so their first bytes serve.
func hash(k *scoring.PersonKey) uint64 { return binary.LittleEndian.Uint64(k[:8]) }

// find returns the index in recs of k, or -1; the caller holds mu.
func (sh *shard) find(k *scoring.PersonKey) int {
	mask := uint64(len(sh.index) - 1)
	for i := hash(k) & mask; ; i = (i + 1) & mask {
		v := sh.index[i]
		if v == 0 {
			return -1
		}
		if sh.recs[v-1].key == *k {
			return int(v - 1)
		}
	}
}

// insert adds a record for a key not yet held; the caller holds mu.
func (sh *shard) insert(r record) {
	if (len(sh.recs)+1)*4 > len(sh.index)*3 {
		sh.rehash(len(sh.index) * 2)
	}
	sh.recs = append(sh.recs, r)
	sh.place(&r.key, uint32(len(sh.recs)))
}

func (sh *shard) place(k *scoring.PersonKey, v uint32) {
	mask := uint64(len(sh.index) - 1)
	i := hash(k) & mask
	for sh.index[i] != 0 {
		i = (i + 1) & mask
	}
	sh.index[i] = v
}

func (sh *shard) rehash(n int) {
	sh.index = make([]uint32, n)
	for i := range sh.recs {
		sh.place(&sh.recs[i].key, uint32(i+1))
	}
}

// Colour is one person's colour as the store holds it.
type Colour struct {
	Key       scoring.PersonKey
	Known     bool // false: never seen (the policy's lowest colour)
	Colour    string
	Level     int
	Policy    string
	Version   uint64
	Effective time.Time // zero when unknown
	Review    time.Time // zero when nothing is pending
	Rules     []string
	Reasons   json.RawMessage // as on the topic; "[]" when none
	// CodeStatus is the update's code_status: "" (a code is issued) or
	// sinks.CodeStatusDeclarationRequired.
	CodeStatus string
}

var emptyReasons = json.RawMessage("[]")

// Get returns the latest colour of k, with Known false if never seen.
func (s *Store) Get(k scoring.PersonKey) Colour {
	sh := s.shard(&k)
	sh.mu.RLock()
	i := sh.find(&k)
	if i < 0 {
		sh.mu.RUnlock()
		return Colour{Key: k, Reasons: emptyReasons}
	}
	r := sh.recs[i]
	var entry []byte
	if r.reasons != 0 {
		// The arena is append-only until compacted into a new slice, so
		// these bytes stay valid after the lock is released.
		entry = sh.arena[r.reasons:]
	}
	sh.mu.RUnlock()
	names, zones := *s.names.Load(), *s.zones.Load()
	loc := time.FixedZone("", int(zones[r.zone]))
	c := Colour{Key: k, Known: true, Colour: names[r.colour], Level: int(r.level), Policy: names[r.policy],
		Version: uint64(r.version), Effective: r.effective.Std().In(loc), Reasons: emptyReasons}
	if r.declReq {
		c.CodeStatus = sinks.CodeStatusDeclarationRequired
	}
	if r.review != 0 {
		c.Review = r.review.Std().In(loc)
	}
	if r.reasons != 0 {
		c.Rules, c.Reasons = s.renderReasons(entry, loc)
	}
	return c
}

// Len returns the number of persons with a colour.
func (s *Store) Len() int { return int(s.held.Load()) }

// ErrUpdate is wrapped by every error of a colour update that cannot be applied.
var ErrUpdate = errors.New("bad colour update")

// ApplyJSON applies one hc.colour-updates message. It reports whether the
// update was newer than what the store held.
func (s *Store) ApplyJSON(b []byte) (bool, error) {
	var u sinks.ColourUpdate
	if err := json.Unmarshal(b, &u); err != nil {
		return false, fmt.Errorf("%w: not the colour update JSON: %v", ErrUpdate, err)
	}
	return s.Apply(&u)
}

// Apply applies one colour update. It reports whether the update was newer
// than what the store held.
func (s *Store) Apply(u *sinks.ColourUpdate) (bool, error) {
	k, err := scoring.ParsePersonKey(u.PersonKey)
	if err != nil {
		return false, fmt.Errorf("%w: person_key is not 32 hex characters", ErrUpdate)
	}
	if u.Version == 0 || u.Version > 1<<32-1 {
		return false, fmt.Errorf("%w: version %d outside 1..2^32-1", ErrUpdate, u.Version)
	}
	if u.Colour == "" || u.Policy == "" || u.Level < 0 || u.Level > 255 {
		return false, fmt.Errorf("%w: colour, policy and a level of 0..255 are required", ErrUpdate)
	}
	eff, err := time.Parse(time.RFC3339, u.EffectiveAt)
	if err != nil {
		return false, fmt.Errorf("%w: effective_at is not RFC 3339", ErrUpdate)
	}
	r := record{key: k, version: uint32(u.Version), level: uint8(u.Level), declReq: u.CodeStatus == sinks.CodeStatusDeclarationRequired}
	if r.effective, err = scoring.TimeOf(eff); err != nil {
		return false, fmt.Errorf("%w: effective_at: %v", ErrUpdate, err)
	}
	if u.ReviewAt != "" {
		rev, err := time.Parse(time.RFC3339, u.ReviewAt)
		if err != nil {
			return false, fmt.Errorf("%w: review_at is not RFC 3339", ErrUpdate)
		}
		if r.review, err = scoring.TimeOf(rev); err != nil {
			return false, fmt.Errorf("%w: review_at: %v", ErrUpdate, err)
		}
	}
	_, off := eff.Zone()
	r.policy, r.colour, r.zone = s.intern(u.Policy), s.intern(u.Colour), s.internZone(int32(off))
	entry, err := s.appendReasons(nil, u.Reasons)
	if err != nil {
		return false, err
	}

	sh := s.shard(&k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.find(&k)
	if i >= 0 && sh.recs[i].version >= r.version {
		return false, nil
	}
	if len(u.Reasons) > 0 {
		r.reasons = uint32(len(sh.arena))
		sh.arena = append(sh.arena, entry...)
	}
	if i < 0 {
		sh.insert(r)
		s.held.Add(1)
		return true, nil
	}
	if old := sh.recs[i].reasons; old != 0 {
		sh.garbage += reasonsLen(sh.arena[old:])
	}
	sh.recs[i] = r
	if sh.garbage > len(sh.arena)/2 && sh.garbage > 1<<16 {
		sh.compact()
	}
	return true, nil
}

// compact copies the live reasons into a new arena; readers holding slices
// of the old one keep it alive until they finish.
func (sh *shard) compact() {
	arena := make([]byte, 1, len(sh.arena)-sh.garbage+1024)
	for i := range sh.recs {
		r := &sh.recs[i]
		if r.reasons == 0 {
			continue
		}
		n := reasonsLen(sh.arena[r.reasons:])
		off := len(arena)
		arena = append(arena, sh.arena[r.reasons:r.reasons+uint32(n)]...)
		r.reasons = uint32(off)
	}
	sh.arena, sh.garbage = arena, 0
}

// intern returns the index of name, adding it if new.
func (s *Store) intern(name string) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.ids[name]; ok {
		return i
	}
	old := *s.names.Load()
	if len(old) >= 1<<16-1 {
		return 0 // cannot happen with real policies: a handful of names
	}
	names := append(old[:len(old):len(old)], name)
	s.names.Store(&names)
	s.ids[name] = uint16(len(names) - 1)
	return uint16(len(names) - 1)
}

func (s *Store) internZone(off int32) uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.zones.Load()
	for i, z := range old {
		if z == off {
			return uint8(i)
		}
	}
	if len(old) >= 255 {
		return 0
	}
	zones := append(old[:len(old):len(old)], off)
	s.zones.Store(&zones)
	return uint8(len(zones) - 1)
}

// Bytes returns the memory the colour part of the store holds: the index,
// the records and the reasons arenas, by capacity.
func (s *Store) Bytes() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += 4*cap(sh.index) + 40*cap(sh.recs) + cap(sh.arena)
		sh.mu.RUnlock()
	}
	return n
}
