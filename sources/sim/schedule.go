package sim

// Scheduled activity: everything but check-ins is planned as items, either for
// a whole day at its start (declarations, campaigns...) or as deferred items
// created while simulating (a PCR after an arrival or after symptoms). An item
// is decided when its time comes, from the state at that instant.

// Item kinds.
const (
	itemDeclaration uint8 = iota + 1
	itemVaccination
	itemPCR
	itemAntigen
	itemTravel
	itemOverride
	itemFlight
	itemCountryRisk
	itemJourney // a return-journey declaration (sub 1: its amendment); aux the returnee
	itemReturn  // a travel-on enters the province; aux the returnee
)

// Why a PCR is taken (item.sub); it picks the lab and the turnaround.
const (
	pcrCampaign uint8 = iota + 1
	pcrClinic         // fever clinic after symptoms
	pcrArrival        // on landing from abroad
	pcrConfirm        // after a positive antigen test
)

type item struct {
	t      int32
	person int32
	aux    int32 // flight index, country risk index
	seq    uint32
	kind   uint8
	sub    uint8
}

// schedule holds one day's planned items, sorted by time with a counting sort
// over the day's seconds (stable: equal times keep their planning order).
type schedule struct {
	items  []item
	sorted []item
	count  []int32
}

func (sc *schedule) sort(w0 int32) {
	if sc.count == nil {
		sc.count = make([]int32, day+1)
	}
	clear(sc.count)
	for _, it := range sc.items {
		sc.count[it.t-w0+1]++
	}
	for i := 1; i <= int(day); i++ {
		sc.count[i] += sc.count[i-1]
	}
	sc.sorted = append(sc.sorted[:0], sc.items...)
	for _, it := range sc.items {
		i := &sc.count[it.t-w0]
		sc.sorted[*i] = it
		*i++
	}
}

// buildDay plans day d's items.
func (s *sim) buildDay(d int) {
	w0 := int32(d) * day
	sc := &s.sched
	sc.items = sc.items[:0]
	add := func(it item) { sc.items = append(sc.items, it) }
	n := len(s.people)

	for i := range s.flights {
		if s.flights[i].day == d {
			add(item{t: s.flights[i].arrived, kind: itemFlight, aux: int32(i), person: -1})
		}
	}
	for i, cr := range countryRisks {
		if cr.day == d {
			add(item{t: s.at(w0, cr.clock), kind: itemCountryRisk, aux: int32(i), person: -1})
		}
	}
	// Declarations: 30% of people declare every morning; symptomatic cases
	// usually declare too.
	for i := range s.people {
		p := uint64(i)
		if s.id.hash(p, 4)%100 < 30 {
			add(item{t: s.at(w0, 7*hour+int32(s.id.hash(p, 100+uint64(d))%uint64(3*hour))), kind: itemDeclaration, person: int32(i)})
		}
	}
	for i := range s.cases {
		c := &s.cases[i]
		if c.symptomatic && c.onset < w0+day && s.id.hash(uint64(c.person), 4)%100 >= 30 && s.rng.IntN(10) < 9 {
			add(item{t: s.at(w0, 8*hour+int32(s.rng.IntN(int(4*hour)))), kind: itemDeclaration, person: c.person})
		}
	}
	for range poisson(s.rng, float64(n)*0.005) {
		add(item{t: s.at(w0, 8*hour+int32(s.rng.IntN(int(9*hour)))), kind: itemVaccination, person: int32(s.rng.IntN(n))})
	}
	for range poisson(s.rng, float64(n)*0.001) {
		add(item{t: s.at(w0, 8*hour+int32(s.rng.IntN(int(14*hour)))), kind: itemAntigen, person: int32(s.rng.IntN(n))})
	}
	for range poisson(s.rng, float64(n)*0.01) {
		add(item{t: s.at(w0, 6*hour+int32(s.rng.IntN(int(14*hour)))), kind: itemTravel, person: int32(s.rng.IntN(n))})
	}
	s.planJourneys(d, add)
	for range max(1, n/50000) {
		add(item{t: s.at(w0, 9*hour+int32(s.rng.IntN(int(8*hour)))), kind: itemOverride, person: -1})
	}
	if b := s.cfg.OverrideBurst; b > 0 && d == min(2, s.cfg.Days-1) {
		for i := range b {
			add(item{t: s.at(w0, 10*hour+int32(i)*hour/int32(b)), kind: itemOverride, person: -1, sub: overrideBurst})
		}
	}
	if d%3 == 2 {
		dist := s.campaignDistrict(d)
		for i := range s.people {
			if int(s.people[i].home) == dist && s.rng.IntN(10) < 9 {
				add(item{t: s.at(w0, 7*hour+int32(s.rng.IntN(int(12*hour)))), kind: itemPCR, sub: pcrCampaign, person: int32(i)})
			}
		}
	}
	sc.sort(w0)
}

// campaignDistrict picks where to test everyone on a campaign day: the
// district with the most local cases found and no campaign in the last six
// days, else the next district in turn.
func (s *sim) campaignDistrict(d int) int {
	best := -1
	for i := range nDistricts {
		recent := s.lastCamp[i] > 0 && d-(s.lastCamp[i]-1) < 6
		if s.detected[i] > 0 && !recent && (best < 0 || s.detected[i] > s.detected[best]) {
			best = i
		}
	}
	if best < 0 {
		best = (d / 3) % nDistricts
	}
	s.lastCamp[best] = d + 1
	return best
}

// later plans an item for later; its time must not be before now.
func (s *sim) later(it item) {
	if it.t < s.cur {
		panic("sim: bug: deferred item in the past")
	}
	s.deferred.push(it)
}

// itemHeap is a min-heap of deferred items by (t, planning order).
type itemHeap struct {
	a   []item
	seq uint32
}

func (h *itemHeap) due(t int32) bool { return len(h.a) > 0 && h.a[0].t <= t }

func less(a []item, i, j int) bool {
	return a[i].t < a[j].t || a[i].t == a[j].t && a[i].seq < a[j].seq
}

func (h *itemHeap) push(it item) {
	it.seq = h.seq
	h.seq++
	h.a = append(h.a, it)
	a := h.a
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !less(a, i, p) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *itemHeap) pop() item {
	a := h.a
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && less(a, l, m) {
			m = l
		}
		if r < len(a) && less(a, r, m) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	h.a = a
	return top
}
