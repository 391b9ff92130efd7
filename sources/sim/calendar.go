package sim

// calendar holds messages until they are due. Messages due within nearSpan
// of now (check-ins, antigen results) go to one bucket per second over a
// ring; later ones (PCR results, trips, designations) to a heap, so that the
// few messages due a day or three ahead do not each hold a bucket's buffer.
// When second t is flushed, its heap messages come first, in (stream, event
// number) order, then its bucket in the order pushed: At never decreases.
type calendar struct {
	ring [][]rec
	far  []rec   // min-heap by (at, kind, seq)
	next int32   // the earliest second not yet flushed
	last int32   // the latest publication instant pushed
	pool [][]rec // emptied buckets, reused to spare the allocator
}

const (
	nearSpan = 4 * hour
	ringSize = nearSpan + 1
)

func (c *calendar) init() {
	c.ring = make([][]rec, ringSize)
}

// push queues r; now is the current instant (r.at >= now).
func (c *calendar) push(r rec, now int32) {
	c.last = max(c.last, r.at)
	if r.at-now > nearSpan {
		c.pushFar(r)
		return
	}
	i := r.at % ringSize
	b := c.ring[i]
	if b == nil {
		if n := len(c.pool); n > 0 {
			b = c.pool[n-1]
			c.pool = c.pool[:n-1]
		}
	}
	c.ring[i] = append(b, r)
}

// flushBefore writes every message due before t, in order.
func (c *calendar) flushBefore(t int32, write func(*rec) error) error {
	for ; c.next < t; c.next++ {
		for len(c.far) > 0 && c.far[0].at <= c.next {
			r := c.popFar()
			if err := write(&r); err != nil {
				return err
			}
		}
		i := c.next % ringSize
		b := c.ring[i]
		if b == nil {
			continue
		}
		for j := range b {
			if err := write(&b[j]); err != nil {
				return err
			}
		}
		c.ring[i] = nil
		c.pool = append(c.pool, b[:0])
	}
	return nil
}

func farLess(a, b *rec) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.seq < b.seq
}

func (c *calendar) pushFar(r rec) {
	c.far = append(c.far, r)
	h := c.far
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !farLess(&h[i], &h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (c *calendar) popFar() rec {
	h := c.far
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && farLess(&h[l], &h[m]) {
			m = l
		}
		if r < len(h) && farLess(&h[r], &h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	c.far = h
	return top
}
