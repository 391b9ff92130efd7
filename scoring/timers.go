package scoring

// timer wakes person idx at time at. Entries are never removed early: when one
// fires, it is acted on only if it still matches the person's Review time.
type timer struct {
	at  Time
	idx uint32
}

// timerHeap is a binary min-heap of timers by time (no container/heap: it would
// box every entry in an interface).
type timerHeap []timer

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].at <= s[i].at {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *timerHeap) peek() (timer, bool) {
	if len(*h) == 0 {
		return timer{}, false
	}
	return (*h)[0], true
}

func (h *timerHeap) pop() timer {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].at < s[m].at {
			m = l
		}
		if r < len(s) && s[r].at < s[m].at {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
