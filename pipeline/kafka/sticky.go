package kafka

import (
	"encoding/json"
	"slices"
	"sync"

	kafkago "github.com/segmentio/kafka-go"
)

// StickyProtocol is the name under which members of a RunPartitioned group
// offer the sticky assignment. Every member also offers kafka-go's "range",
// so a group whose members do not all speak sticky still forms.
const StickyProtocol = "healthcode-sticky"

// stickyBalancer is a kafka-go GroupBalancer that keeps partitions with the
// member that owned them in the last generation, as far as an even spread
// allows. kafka-go implements only the eager protocol, so every rebalance
// stops every handler of every member; with a sticky assignment the handlers
// of partitions that stay can keep their state (a stage's per-partition
// cache) instead of restoring it.
//
// Each member announces, in its join metadata (UserData), the partitions it
// owned in its last generation. The leader then, per topic:
//
//  1. gives each member a quota: the partitions divided evenly; the members
//     with the most previously owned partitions (ties by member id) get the
//     one extra partition the division leaves over;
//  2. lets each member, in member-id order, keep the partitions it owned,
//     up to its quota (a partition two members claim goes to the first);
//  3. hands the rest out in ascending order to the members below quota, in
//     member-id order.
//
// The result depends only on the members, their announced partitions and
// the topic's partitions, never on the order kafka-go lists them in.
type stickyBalancer struct {
	mu    sync.Mutex       // protects owned
	owned map[string][]int // topic -> partitions this member owned in its last generation
}

func (b *stickyBalancer) ProtocolName() string { return StickyProtocol }

// setOwned records the partitions this member owns in the generation just
// begun; the next join announces them.
func (b *stickyBalancer) setOwned(topic string, partitions []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.owned == nil {
		b.owned = map[string][]int{}
	}
	b.owned[topic] = slices.Clone(partitions)
}

// stickyUserData is the join metadata of a member.
type stickyUserData struct {
	Owned map[string][]int `json:"owned"`
}

func (b *stickyBalancer) UserData() ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return json.Marshal(stickyUserData{Owned: b.owned})
}

func (b *stickyBalancer) AssignGroups(members []kafkago.GroupMember, partitions []kafkago.Partition) kafkago.GroupMemberAssignments {
	out := kafkago.GroupMemberAssignments{}
	byTopic := map[string][]int{}
	for _, p := range partitions {
		byTopic[p.Topic] = append(byTopic[p.Topic], p.ID)
	}
	prev := map[string]map[string][]int{} // member -> topic -> owned before
	subs := map[string][]string{}         // topic -> subscribed member ids
	for _, m := range members {
		out[m.ID] = map[string][]int{}
		var ud stickyUserData
		if len(m.UserData) > 0 && json.Unmarshal(m.UserData, &ud) == nil {
			prev[m.ID] = ud.Owned
		}
		for _, t := range m.Topics {
			subs[t] = append(subs[t], m.ID)
		}
	}
	for topic, ids := range subs {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		parts := byTopic[topic]
		slices.Sort(parts)
		owned := make(map[string][]int, len(ids))
		for _, id := range ids {
			owned[id] = prev[id][topic]
		}
		for id, ps := range assignSticky(ids, parts, owned) {
			if len(ps) > 0 {
				out[id][topic] = ps
			}
		}
	}
	return out
}

// assignSticky spreads parts (sorted) over members (sorted ids), keeping each
// member's previously owned partitions where the quota allows.
func assignSticky(members []string, parts []int, owned map[string][]int) map[string][]int {
	out := make(map[string][]int, len(members))
	if len(members) == 0 {
		return out
	}
	exists := make(map[int]bool, len(parts))
	for _, p := range parts {
		exists[p] = true
	}
	held := func(id string) (n int) {
		for _, p := range owned[id] {
			if exists[p] {
				n++
			}
		}
		return n
	}
	// Quotas: the extra partitions go to the members that held the most.
	order := slices.Clone(members)
	slices.SortStableFunc(order, func(a, b string) int { return held(b) - held(a) })
	quota := make(map[string]int, len(members))
	base, extra := len(parts)/len(members), len(parts)%len(members)
	for i, id := range order {
		quota[id] = base
		if i < extra {
			quota[id]++
		}
	}
	taken := make(map[int]bool, len(parts))
	for _, id := range members {
		ps := slices.Clone(owned[id])
		slices.Sort(ps)
		for _, p := range ps {
			if len(out[id]) == quota[id] {
				break
			}
			if exists[p] && !taken[p] {
				taken[p] = true
				out[id] = append(out[id], p)
			}
		}
	}
	i := 0
	for _, id := range members {
		for len(out[id]) < quota[id] {
			for taken[parts[i]] {
				i++
			}
			taken[parts[i]] = true
			out[id] = append(out[id], parts[i])
		}
		slices.Sort(out[id])
	}
	return out
}
