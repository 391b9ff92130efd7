package broker

// The session reaper: Kafka's session rule for classic consumer groups,
// enforced on kfake from outside, through its public API.
//
// kfake (v0.0.0-20260918054303-01f206a7e32c, groups.go) starts a member's
// session timer when a join or sync response reaches the member, and on each
// heartbeat. A new member whose process dies while its first JoinGroup is
// pending still counts as joined: the rebalance completes, the join response
// goes to a closed connection (kfake's send races the closed connection and
// fails about half the time) and then no timer is ever started. Once the
// leader syncs, the group is Stable with that member in it, holding an
// assignment, and nothing removes it: its partitions are never consumed.
// Kafka schedules every member's heartbeat expiry when a join completes,
// whether the response was delivered or not
// (GroupMetadataManager.completeClassicGroupJoin).
//
// The reaper restores that rule. An observer (kfake controls that only
// watch) records when each member last sent a group request, and a loop
// describes the groups every reapEvery: in a Stable group every live member
// heartbeats, so one silent for longer than the group's session timeout is
// dead and is evicted with a LeaveGroup, after which kfake rebalances as for
// any member that leaves. Groups that are not Stable are left to kfake, whose
// rebalance and pending-sync timers remove members that do not rejoin.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// reapEvery is how often the reaper describes the groups; a dead member
	// is evicted at most this long after its session has expired.
	reapEvery = 500 * time.Millisecond
	// renewWatch is how long one observer control lives before it replaces
	// itself: kfake's controls remember the last request of every
	// connection they saw and never forget a closed connection.
	renewWatch = 10 * time.Minute
	// stableState is a classic group's state once every member has its
	// assignment (kfake's and Kafka's name).
	stableState = "Stable"
)

type memberKey struct{ group, member string }

// sessions is the reaper of one broker: the observer's records and the
// eviction count. The loop's own state lives in run.
type sessions struct {
	log       *slog.Logger
	evictions atomic.Int64

	// mu guards seen and timeouts, written by the observer on kfake's
	// request loop and read and pruned by the reaper's loop. Never held
	// across a request to the broker: the request's control would wait on it.
	mu sync.Mutex
	// seen is when each member last sent a JoinGroup (with its member ID),
	// SyncGroup, Heartbeat or OffsetCommit.
	seen map[memberKey]time.Time
	// timeouts is each group's longest session timeout asked for in a
	// JoinGroup, and when it was last asked for.
	timeouts map[string]groupTimeout
}

type groupTimeout struct {
	d  time.Duration
	at time.Time
}

func newSessions(log *slog.Logger) *sessions {
	return &sessions{log: log, seen: map[memberKey]time.Time{}, timeouts: map[string]groupTimeout{}}
}

// watch installs the observer on c. It controls only the group requests, so
// that produce and fetch requests run no control at all.
func (s *sessions) watch(c *kfake.Cluster) {
	for _, k := range []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.OffsetCommit, kmsg.LeaveGroup} {
		s.watchKey(c, int16(k))
	}
}

func (s *sessions) watchKey(c *kfake.Cluster, key int16) {
	born := time.Now()
	c.ControlKey(key, func(req kmsg.Request) (kmsg.Response, error, bool) {
		now := time.Now()
		s.observe(req, now)
		if now.Sub(born) > renewWatch {
			c.DropControl()
			s.watchKey(c, key) // runs from the next request on
		}
		return nil, nil, false // not handled: kfake answers it as usual
	})
}

// observe records one group request that arrived at now.
func (s *sessions) observe(req kmsg.Request, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		d := time.Duration(r.SessionTimeoutMillis) * time.Millisecond
		t := s.timeouts[r.Group]
		s.timeouts[r.Group] = groupTimeout{d: max(t.d, d), at: now}
		s.saw(r.Group, r.MemberID, now) // a first join has no member ID yet
	case *kmsg.SyncGroupRequest:
		s.saw(r.Group, r.MemberID, now)
	case *kmsg.HeartbeatRequest:
		s.saw(r.Group, r.MemberID, now)
	case *kmsg.OffsetCommitRequest:
		s.saw(r.Group, r.MemberID, now) // a commit outside the group has none
	case *kmsg.LeaveGroupRequest:
		delete(s.seen, memberKey{r.Group, r.MemberID}) // v0-2
		for _, m := range r.Members {                  // v3+
			delete(s.seen, memberKey{r.Group, m.MemberID})
		}
	}
}

func (s *sessions) saw(group, member string, now time.Time) {
	if member != "" {
		s.seen[memberKey{group, member}] = now
	}
}

// describedGroup is one classic group as DescribeGroups gave it.
type describedGroup struct {
	name, state string
	members     []string
}

// sweep decides, at now, which members of the groups described (at asked or
// later) to evict. stableSince holds, for each member of a group that was
// Stable at the previous sweep, when the reaper first saw it there; sweep
// returns the map for the next one. A member's silence counts from the later
// of its last request and that first sight: a member that waited out a long
// rebalance sent its last request long before its session started again,
// and a member kfake restored from its data directory sent none here. sweep
// also forgets what it recorded of members and groups no longer described,
// unless recorded after asked.
func (s *sessions) sweep(now, asked time.Time, groups []describedGroup, stableSince map[memberKey]time.Time) (evict []describedGroup, next map[memberKey]time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next = make(map[memberKey]time.Time, len(stableSince))
	live := make(map[memberKey]bool)
	listed := make(map[string]bool, len(groups))
	for _, g := range groups {
		listed[g.name] = true
		for _, m := range g.members {
			live[memberKey{g.name, m}] = true
		}
		if g.state != stableState {
			continue
		}
		timeout, known := s.timeouts[g.name]
		var dead []string
		for _, m := range g.members {
			k := memberKey{g.name, m}
			since, ok := stableSince[k]
			if !ok {
				since = now
			}
			next[k] = since
			last := since
			if t := s.seen[k]; t.After(last) {
				last = t
			}
			if known && timeout.d > 0 && now.Sub(last) > timeout.d {
				dead = append(dead, m)
			}
		}
		if len(dead) > 0 {
			evict = append(evict, describedGroup{name: g.name, state: g.state, members: dead})
		}
	}
	for k, t := range s.seen {
		if !live[k] && t.Before(asked) {
			delete(s.seen, k)
		}
	}
	for g, t := range s.timeouts {
		if !listed[g] && t.at.Before(asked) {
			delete(s.timeouts, g)
		}
	}
	return evict, next
}

// run is the reaper's loop, until ctx is done.
func (s *sessions) run(ctx context.Context, cl *kgo.Client) {
	tick := time.NewTicker(reapEvery)
	defer tick.Stop()
	stableSince := map[memberKey]time.Time{}
	var lastErr time.Time // errors are logged once a minute at most
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		asked := time.Now()
		groups, err := describeGroups(ctx, cl)
		if err == nil {
			var evict []describedGroup
			evict, stableSince = s.sweep(time.Now(), asked, groups, stableSince)
			for _, g := range evict {
				if err = s.evict(ctx, cl, g); err != nil {
					break
				}
			}
		}
		if err != nil && ctx.Err() == nil && time.Since(lastErr) > time.Minute {
			lastErr = time.Now()
			s.log.Warn("embedded broker: session reaper failed; retrying", slog.Any("err", err))
		}
	}
}

// evict removes the members of g from their group, as if they had left.
func (s *sessions) evict(ctx context.Context, cl *kgo.Client, g describedGroup) error {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = g.name
	for _, m := range g.members {
		rm := kmsg.NewLeaveGroupRequestMember()
		rm.MemberID = m
		rm.Reason = kmsg.StringPtr("session timed out (healthcode session reaper)")
		req.Members = append(req.Members, rm)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("leave group: %w", err)
	}
	if req.Version < 3 {
		return fmt.Errorf("leave group v%d: the broker does not take a batch of members", req.Version)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("leave group: %w", err)
	}
	for _, m := range resp.Members {
		err := kerr.ErrorForCode(m.ErrorCode)
		if errors.Is(err, kerr.UnknownMemberID) {
			continue // gone meanwhile
		}
		if err != nil {
			return fmt.Errorf("leave group: %w", err)
		}
		s.evictions.Add(1)
		s.log.Warn("embedded broker: evicted a consumer-group member silent past its session timeout",
			slog.String("group", g.name), slog.String("member", m.MemberID))
	}
	return nil
}

// describeGroups lists the broker's classic groups and describes them.
func describeGroups(ctx context.Context, cl *kgo.Client) ([]describedGroup, error) {
	list, err := kmsg.NewPtrListGroupsRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	if err := kerr.ErrorForCode(list.ErrorCode); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	req := kmsg.NewPtrDescribeGroupsRequest()
	for _, g := range list.Groups {
		if g.GroupType == "" || g.GroupType == "classic" {
			req.Groups = append(req.Groups, g.Group)
		}
	}
	if len(req.Groups) == 0 {
		return nil, nil
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	out := make([]describedGroup, 0, len(resp.Groups))
	for _, g := range resp.Groups {
		if g.ErrorCode != 0 {
			continue // gone since the list, or not a classic group
		}
		d := describedGroup{name: g.Group, state: g.State, members: make([]string, len(g.Members))}
		for i, m := range g.Members {
			d.members[i] = m.MemberID
		}
		out = append(out, d)
	}
	return out, nil
}
