package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"healthcode/sources"
)

// Message is one upstream message, ready for its stream's topic.
type Message struct {
	Stream sources.Stream
	// Key is the Kafka key: "NUMBER/DATE" for flights ("CA936/2020-03-16"),
	// "KIND:CODE" for area risk ("country:DEU"), the event_id otherwise. It
	// never holds a raw identifier.
	Key []byte
	// Value is the JSON message of docs/contract.md.
	//
	// Key and Value alias buffers that Run reuses once emit returns: copy them
	// (bytes.Clone) to keep them.
	Value []byte
	// At is when the upstream system publishes the message, in simulated time:
	// the test's reported_at for test results, left_at for check-ins and
	// travel records that carry it, occurred_at for everything else.
	At time.Time
}

// Summary describes a finished (or interrupted) run.
type Summary struct {
	Messages  map[sources.Stream]int // messages emitted per stream
	Bytes     int64                  // total size of the emitted values
	People    int
	Venues    int
	Flights   int // flight manifests scheduled
	Cases     int // index cases infected at Start
	Imported  int // arrivals infected abroad
	Infected  int // everyone infected by the end: index, imported and by transmission
	Detected  int // infected people with a positive test sampled before the end
	Returnees int // passengers of flights from abroad and residents who declared a journey
	Declared  int // returnees who declared their journey
}

// Simulated instants are int32 seconds since Config.Start.
const (
	never  int32 = math.MaxInt32 // an instant that does not come
	noTime int32 = math.MinInt32 // an absent optional time
	day    int32 = 86400
	hour   int32 = 3600
	minute int32 = 60
)

// person is the per-person state: fixed-size, pointer-free, one cache line
// for the fields the check-in loop reads together.
type person struct {
	busy     int32 // unavailable for check-ins and trips before this: a stay, a trip, quarantine
	arrive   int32 // in the province from this instant (noTime: from the start)
	inf      int32 // 1 + index into sim.cases; 0 if never infected
	lastDose int16 // day (from Start) of the last vaccine dose
	home     uint8 // district index
	doc      uint8 // docResident...
	doses    uint8
}

type venue struct {
	lat, lng int32
	num      int32 // number within its district, from 1
	dist     uint8
	kind     uint8 // index into venueKinds
}

type flight struct {
	route    route
	day      int
	departed int32
	arrived  int32
	pax      []int32 // people aboard
	seat     []int16 // row*9+letter, or -1 for crew
	rtFirst  int32   // index in sim.returnees of pax[0]'s returnee (returnees.go)
	level    uint8   // the origin country's level at landing
}

// Places of infections that are not venues.
const (
	placeIndex   int32 = -1
	placeAbroad0 int32 = -2 // -2 - country index
)

// infection is one line of the ground truth while the run lasts.
type infection struct {
	person      int32
	source      int32 // infector, -1 for index and imported cases
	place       int32 // venue index, placeIndex, or placeAbroad0 - country
	at          int32
	onset       int32
	isolated    int32 // reported_at of the first positive test; never if undetected
	gen         uint8
	symptomatic bool
}

// Area kinds of designations.
const (
	areaCountry uint8 = iota + 1
	areaRegion
	areaH3
)

var areaKindNames = [...]string{"", "country", "region", "h3"}

type designation struct {
	kind  uint8
	level uint8
	code  string
	until int32 // noTime if open-ended
}

// sim is the state of one run.
type sim struct {
	cfg Config
	// contactMin is the venue overlap at which the disease can pass: the
	// policy's close-contact overlap, in seconds.
	contactMin int32
	rng        *rand.Rand
	id         identity
	start      int64 // Unix seconds of Config.Start
	sod0       int32 // local (+08:00) second of day of Start
	loc        *time.Location

	people     []person
	venues     []venue
	distVenues [nDistricts + 1]int32 // venues of district d are [distVenues[d], distVenues[d+1])
	occ        [][]stay              // stays at each venue, some perhaps ended
	infAt      []uint16              // stays in occ[v] of people infected at entry
	flights    []flight
	returnees  []returnee // returnees.go
	cases      []infection
	desig      []designation
	cLevel     [len(countries)]uint8 // current designation of each country
	detected   [nDistricts]int       // local positive cases found per home district
	lastCamp   [nDistricts]int       // 1 + day of the district's last PCR campaign
	nDetected  int
	nImported  int
	nIndex     int

	sched    schedule
	deferred itemHeap
	cal      calendar
	cur      int32 // the instant being simulated
	ctx      context.Context
	counters [nStreams]uint32
	out      output
}

func newSim(cfg Config, emit func(Message) error) *sim {
	seed := uint64(cfg.Seed)
	s := &sim{
		cfg:        cfg,
		contactMin: int32(cfg.Policy.Contacts.CloseOverlap.Std() / time.Second),
		rng:        rand.New(rand.NewPCG(seed, seed^0x6865616c7468)),
		id:         newIdentity(seed),
		start:      cfg.Start.Unix(),
		loc:        time.FixedZone("CST", cstOffset),
	}
	s.sod0 = int32((s.start + cstOffset) - floorDiv(s.start+cstOffset, 86400)*86400)
	s.cal.init()
	s.out.init(s, emit)
	return s
}

// at returns the instant in [w0, w0+day) whose local clock reads sod.
func (s *sim) at(w0, sod int32) int32 {
	local := (s.sod0 + w0) % day
	return w0 + ((sod-local)%day+day)%day
}

// poisson draws a Poisson count (normal approximation for large means).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda < 30 {
		l, k, p := math.Exp(-lambda), 0, 1.0
		for {
			p *= r.Float64()
			if p <= l {
				return k
			}
			k++
		}
	}
	return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
}

// Run simulates the province and calls emit for every message.
//
// Ordering guarantee: emit sees messages in non-decreasing Message.At over the
// whole run, ties in a fixed order (see calendar), and for every
// message occurred_at <= At <= occurred_at + MaxLateness. Every message has
// occurred_at in [Start, Start + Days*24h); At may run past the end by up to
// MaxLateness (results reported, stays ended after the last day).
//
// Memory is bounded by the population, the venues and the messages in flight
// (created but not yet due), never by the number of messages, unless
// Config.Contacts is set (the contact-tracing truth keeps every presence
// emitted). Run stops at the first error from emit or when ctx ends,
// returning what it did so far.
func Run(ctx context.Context, cfg Config, emit func(Message) error) (Summary, error) {
	cfg.setDefaults()
	cfg.Start = cfg.Start.Truncate(time.Second)
	if err := cfg.defaultPolicy(); err != nil {
		return Summary{}, fmt.Errorf("sim config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return Summary{}, fmt.Errorf("sim config: %w", err)
	}
	var ct *contactTracer
	if cfg.Contacts != nil {
		ct = newContactTracer(cfg.Key, cfg.Policy)
		emit = ct.observing(emit)
	}
	s := newSim(cfg, emit)
	s.setup()
	if err := s.run(ctx); err != nil {
		return s.summary(), err
	}
	if cfg.Truth != nil {
		if err := s.writeTruth(cfg.Truth); err != nil {
			return s.summary(), fmt.Errorf("write truth: %w", err)
		}
	}
	if cfg.Journeys != nil {
		if err := s.writeJourneys(cfg.Journeys); err != nil {
			return s.summary(), fmt.Errorf("write journeys: %w", err)
		}
	}
	if ct != nil {
		if err := ct.write(cfg.Contacts); err != nil {
			return s.summary(), fmt.Errorf("write contacts: %w", err)
		}
	}
	return s.summary(), nil
}

func (s *sim) summary() Summary {
	sum := Summary{
		Messages:  make(map[sources.Stream]int, len(sources.Streams)),
		Bytes:     s.out.bytes,
		People:    len(s.people),
		Venues:    len(s.venues),
		Flights:   len(s.flights),
		Cases:     s.nIndex,
		Imported:  s.nImported,
		Infected:  len(s.cases),
		Detected:  s.nDetected,
		Returnees: len(s.returnees),
	}
	for i := range s.returnees {
		if s.returnees[i].kind&rtDeclared != 0 {
			sum.Declared++
		}
	}
	for _, st := range sources.Streams {
		if n := s.out.count[st]; n > 0 {
			sum.Messages[st] = n
		}
	}
	return sum
}

// run advances the simulation second by second, day by day.
func (s *sim) run(ctx context.Context) error {
	s.ctx = ctx
	var counts [3600]int32
	perDay := float64(len(s.people)) * s.cfg.CheckinsPerDay
	var wsum float64
	for _, w := range checkinWeight {
		wsum += w
	}
	for d := range s.cfg.Days {
		w0 := int32(d) * day
		s.buildDay(d)
		next := 0
		for h := range int32(24) {
			if err := ctx.Err(); err != nil {
				return err
			}
			hs := w0 + h*hour
			localHour := ((s.sod0 + hs) % day) / hour
			clear(counts[:])
			for range poisson(s.rng, perDay*checkinWeight[localHour]/wsum) {
				counts[s.rng.IntN(3600)]++
			}
			for sec := range int32(3600) {
				t := hs + sec
				s.cur = t
				if err := s.cal.flushBefore(t, s.out.write); err != nil {
					return err
				}
				for next < len(s.sched.sorted) && s.sched.sorted[next].t == t {
					s.process(s.sched.sorted[next])
					next++
				}
				for s.deferred.due(t) {
					s.process(s.deferred.pop())
				}
				for range counts[sec] {
					s.checkin(t)
				}
			}
		}
	}
	s.cur = int32(s.cfg.Days) * day
	return s.cal.flushBefore(s.cal.last+1, s.out.write)
}
