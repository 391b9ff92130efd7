package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/pipeline/service"
	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/codes"
	"healthcode/sinks/codes/token"
)

// Codes load and topics.
const (
	codesClients    = 32 // concurrent keep-alive HTTP clients
	codesPartitions = 8
	codesColours    = "hc.colour-updates"
	codesEvents     = "hc.person-events"
)

// Codes measures the code service holding CodesPersons persons restored from
// hc.colour-updates on an embedded broker: GET /v1/codes/{key} with a fresh
// token (signed per request) for random persons, from 32 keep-alive clients
// in the same process (so client and server share the 2 cores); the bytes its
// store holds per person; and the delay from a colour update acknowledged on
// the topic to its new version being served. Baselines from the same run: a
// bare net/http handler returning a fixed body of the same size to the same
// clients; the same updates held as decoded structs in a Go map; a plain
// partition reader seeing the same updates on the topic.
func Codes(ctx context.Context, o *Options, r *Report) error {
	o.SetDefaults()
	log := o.Logger.With(slog.String("section", "codes"))
	n := o.CodesPersons
	keys := make([]scoring.PersonKey, n)
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range keys {
		for j := range keys[i] {
			keys[i][j] = byte(rng.Uint32())
		}
	}
	mapBytes := codesMapBytes(keys[:min(n, 100_000)]) // before anything else runs
	emb, err := broker.Start(broker.Options{Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("codes: %w", err)
	}
	defer emb.Close()
	brokers := emb.Addrs()
	kc, err := kafka.New(kafka.Config{Brokers: brokers, Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("codes: %w", err)
	}
	if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: codesColours, Partitions: codesPartitions},
		kafka.TopicSpec{Name: codesEvents, Partitions: codesPartitions}); err != nil {
		return fmt.Errorf("codes: %w", err)
	}
	log.Info("producing colour updates", slog.Int("persons", n))
	w := kc.NewWriter(codesColours, nil)
	defer w.Close()
	batch := make([]kafka.Message, 0, 10_000)
	for i := range keys {
		batch = append(batch, kafka.Message{Key: []byte(keys[i].String()), Value: codesUpdate(keys[i], i, 1)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				return fmt.Errorf("codes: produce: %w", err)
			}
			batch = batch[:0]
		}
	}

	key, err := token.GenerateKey()
	if err != nil {
		return err
	}
	signer, err := token.NewSigner(token.SignerOptions{Keys: []*token.Key{key}, Issuer: "CN-BENCH"})
	if err != nil {
		return err
	}
	pol, err := policies.Load("domestic")
	if err != nil {
		return err
	}
	srv, err := codes.New(codes.Options{Kafka: kc.Config(), Signer: signer, Policy: pol, ExpectedPersons: n, Logger: o.Logger})
	if err != nil {
		return err
	}
	svc := service.New(service.Options{Logger: o.Logger})
	srv.Register(svc)
	if err := svc.Start(); err != nil {
		return err
	}
	defer svc.Close(ctx)
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Run(rctx); err != nil {
			log.Error("codes: run", slog.String("error", err.Error()))
		}
	}()
	defer wg.Wait()
	defer stop()
	start := time.Now()
	for srv.Ready() != nil || srv.Store().Len() < n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(10 * time.Millisecond)
	}
	restore := time.Since(start)
	runtime.GC()
	bytesPer := float64(srv.Store().Bytes()) / float64(n)
	log.Info("restored", slog.Int("persons", srv.Store().Len()), slog.Duration("took", restore))

	// Requests: the service, then the bare baseline with a body of the same size.
	urls := make([]string, n)
	for i := range keys {
		urls[i] = svc.URL() + "/v1/codes/" + keys[i].String()
	}
	sample, err := codesGet(http.DefaultClient, urls[0])
	if err != nil {
		return fmt.Errorf("codes: %w", err)
	}
	var resp struct{ Token string }
	if err := json.Unmarshal(sample, &resp); err != nil {
		return fmt.Errorf("codes: response: %w", err)
	}
	if _, _, err := token.NewVerifier(signer.TrustList(), nil).Verify(resp.Token, time.Now()); err != nil {
		return fmt.Errorf("codes: served token does not verify: %w", err)
	}
	rps, p99, err := codesLoad(ctx, urls, o.CodesDuration)
	if err != nil {
		return err
	}
	bareURL, closeBare, err := codesBare(sample)
	if err != nil {
		return err
	}
	defer closeBare()
	bareRPS, bareP99, err := codesLoad(ctx, []string{bareURL}, o.CodesDuration)
	if err != nil {
		return err
	}
	signRate := codesSignRate(signer, o.CodesDuration/2)

	// Update to token: one update at a time to a person not updated since.
	updates := 500
	if o.Quick {
		updates = 50
	}
	delays, plain, err := codesUpdateDelays(ctx, kc, w, urls, keys, updates)
	if err != nil {
		return err
	}
	slices.Sort(delays)
	slices.Sort(plain)
	r.Add(
		Figure{Key: "codes_requests_per_sec", Value: rps, Unit: "requests/s", Baseline: "bare net/http handler, fixed body of the same size, same clients",
			BaselineValue: bareRPS, Goal: ">= 50000",
			Note: fmt.Sprintf("GET /v1/codes/{key} for random persons of %d held, each answer a freshly signed token, %d keep-alive clients in the same process; signing alone: %.0f tokens/s on %d cores",
				n, codesClients, signRate, runtime.GOMAXPROCS(0))},
		Figure{Key: "codes_p99_ms", Value: p99, Unit: "ms", Baseline: "bare net/http handler p99", BaselineValue: bareP99, Goal: "<= 10",
			Note: "the same run as codes_requests_per_sec (closed loop: clients wait for each answer)"},
		Figure{Key: "codes_bytes_per_person", Value: bytesPer, Unit: "bytes", Baseline: "the same updates as decoded structs in a Go map",
			BaselineValue: mapBytes, Goal: "<= 64",
			Note: fmt.Sprintf("the store's index, records and reasons arenas by capacity, after restoring %d persons (20%% with reasons) in %s", n, restore.Round(time.Millisecond))},
		Figure{Key: "codes_update_to_token_p99_ms", Value: quantileSorted(delays, 0.99), Unit: "ms",
			Baseline: "a plain partition reader seeing the same updates", BaselineValue: quantileSorted(plain, 0.99), Goal: "<= 100",
			Note: fmt.Sprintf("%d updates one at a time, from the produce acknowledged to GET serving the new version (polled every 0.5 ms)", len(delays))},
	)
	return nil
}

// codesUpdate is person i's colour update: 1 in 10 red with a reason, 1 in 10
// yellow with one, the others green without.
func codesUpdate(k scoring.PersonKey, i int, version uint64) []byte {
	u := sinks.ColourUpdate{PersonKey: k.String(), Colour: "green", Version: version, Policy: "domestic@1",
		EffectiveAt: "2020-03-16T10:00:00+08:00", Reasons: []sinks.Reason{}}
	switch i % 10 {
	case 0:
		u.Colour, u.Level, u.ReviewAt = "red", 2, "2020-03-30T10:00:00+08:00"
		u.Reasons = append(u.Reasons, sinks.Reason{Rule: "close-contact", TextEN: "Close contact of a confirmed case", TextZH: "确诊病例的密切接触者",
			Evidence: []string{fmt.Sprintf("trace-%d", i)}, Until: "2020-03-30T10:00:00+08:00", ClearsWhen: "14 days after the contact"})
	case 1:
		u.Colour, u.Level, u.ReviewAt = "yellow", 1, "2020-03-23T10:00:00+08:00"
		u.Reasons = append(u.Reasons, sinks.Reason{Rule: "area-medium", TextEN: "Stayed in a medium-risk area", TextZH: "到过中风险地区",
			Evidence: []string{fmt.Sprintf("travel-%d", i)}, Until: "2020-03-23T10:00:00+08:00", ClearsWhen: "7 days after leaving"})
	}
	b, _ := json.Marshal(u)
	return b
}

// codesMapBytes is the baseline's heap per person: the updates decoded into
// a map from key to struct.
func codesMapBytes(keys []scoring.PersonKey) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := make(map[string]sinks.ColourUpdate, len(keys))
	for i, k := range keys {
		var u sinks.ColourUpdate
		json.Unmarshal(codesUpdate(k, i, 1), &u)
		m[u.PersonKey] = u
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(keys))
}

func codesGet(c *http.Client, url string) ([]byte, error) {
	res, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET: %s", res.Status)
	}
	return b, err
}

// codesLoad runs codesClients closed-loop clients for d against random urls
// and returns requests/s and the p99 latency in ms.
func codesLoad(ctx context.Context, urls []string, d time.Duration) (float64, float64, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: codesClients, MaxConnsPerHost: codesClients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	lat := make([][]float64, codesClients)
	var failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < codesClients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			buf := make([]byte, 4096)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t := time.Now()
				res, err := client.Get(urls[rng.IntN(len(urls))])
				if err == nil {
					for {
						if _, rerr := res.Body.Read(buf); rerr != nil {
							break
						}
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %s", res.Status)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat[g] = append(lat[g], float64(time.Since(t).Microseconds())/1000)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 || failed.Load() > int64(len(all)/100) {
		return 0, 0, fmt.Errorf("codes: %d of %d requests failed: %v", failed.Load(), int64(len(all))+failed.Load(), firstErr.Load())
	}
	slices.Sort(all)
	return float64(len(all)) / took.Seconds(), quantileSorted(all, 0.99), nil
}

// codesBare serves body from a bare net/http handler on loopback.
func codesBare(body []byte) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	done := make(chan struct{})
	go func() { defer close(done); hs.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/", func() { hs.Close(); <-done }, nil
}

// codesSignRate is tokens signed per second by GOMAXPROCS goroutines.
func codesSignRate(s *token.Signer, d time.Duration) float64 {
	var count atomic.Int64
	code := token.Code{Colour: "red", Level: 2, Policy: "domestic@1", Version: 3, Rules: []string{"close-contact"}}
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				s.Issue(time.Now(), "00112233445566778899aabbccddeeff", code, nil)
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}

// codesUpdateDelays produces version 2 of count persons one at a time and
// returns, in ms, how long after each produce was acknowledged the service
// served it, and when a plain partition reader saw it.
func codesUpdateDelays(ctx context.Context, kc *kafka.Client, w *kafka.Writer, urls []string, keys []scoring.PersonKey, count int) ([]float64, []float64, error) {
	ends, err := kc.EndOffsets(ctx, codesColours, codesPartitionList()...)
	if err != nil {
		return nil, nil, err
	}
	type sighting struct {
		key string
		at  time.Time
	}
	seen := make(chan sighting, count)
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for p := 0; p < codesPartitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := kc.NewPartitionReader(codesColours, p)
			defer rd.Close()
			rd.SetOffset(ends[p])
			for {
				m, err := rd.FetchMessage(rctx)
				if err != nil {
					return
				}
				seen <- sighting{string(m.Key), time.Now()}
			}
		}()
	}
	defer wg.Wait()
	defer stop()
	client := &http.Client{Timeout: 5 * time.Second}
	var served, plain []float64
	for i := 0; i < count; i++ {
		j := len(keys) - 1 - i
		msg := kafka.Message{Key: []byte(keys[j].String()), Value: codesUpdate(keys[j], j, 2)}
		if err := w.WriteMessages(ctx, msg); err != nil {
			return nil, nil, fmt.Errorf("codes: produce update: %w", err)
		}
		acked := time.Now()
		var plainAt time.Time
		for {
			b, err := codesGet(client, urls[j])
			if err != nil {
				return nil, nil, fmt.Errorf("codes: %w", err)
			}
			var v struct{ Version uint64 }
			json.Unmarshal(b, &v)
			if v.Version == 2 {
				served = append(served, float64(time.Since(acked).Microseconds())/1000)
				break
			}
			if time.Since(acked) > 30*time.Second {
				return nil, nil, fmt.Errorf("codes: update %d not served after 30s", i)
			}
			time.Sleep(500 * time.Microsecond)
		}
		for plainAt.IsZero() {
			select {
			case sg := <-seen:
				if sg.key == keys[j].String() {
					plainAt = sg.at
				}
			case <-time.After(30 * time.Second):
				return nil, nil, fmt.Errorf("codes: the plain reader missed update %d", i)
			}
		}
		// The reader may see a message before its produce is acknowledged.
		plain = append(plain, max(0, float64(plainAt.Sub(acked).Microseconds())/1000))
	}
	return served, plain, nil
}

// codesPartitionList lists the partitions of the colour topic.
func codesPartitionList() []int {
	ps := make([]int, codesPartitions)
	for p := range ps {
		ps[p] = p
	}
	return ps
}
