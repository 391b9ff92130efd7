package codes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthcode/pipeline/broker"
	"healthcode/pipeline/kafka"
	"healthcode/pipeline/service"
	"healthcode/pipeline/wire"
	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks/codes/token"
	"healthcode/sources"
)

const testSecret = "codes-test-pseudonym-secret"

// fixture is a running code service on kfake with a few persons on the topics.
type fixture struct {
	url      string
	brokers  []string
	signer   *token.Signer
	revsPath string
	red      scoring.PersonKey // red, two reasons, a test and a dose
	yellow   scoring.PersonKey // by passport E1234567: yellow
	unseen   scoring.PersonKey
}

func produce(t *testing.T, ctx context.Context, w *kafka.Writer, msgs ...kafka.Message) {
	t.Helper()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func startFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	emb, err := broker.Start(broker.Options{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{brokers: emb.Addrs(), red: testKey(100), unseen: testKey(101),
		yellow: sources.PersonKey([]byte(testSecret), sources.IDTypePassport, "E1234567")}
	kc, err := kafka.New(kafka.Config{Brokers: f.brokers})
	if err != nil {
		t.Fatal(err)
	}
	if err := kc.EnsureTopics(ctx, kafka.TopicSpec{Name: "hc.colour-updates", Partitions: 4},
		kafka.TopicSpec{Name: "hc.person-events", Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	cw := kc.NewWriter("hc.colour-updates", nil)
	ew := kc.NewWriter("hc.person-events", kafka.PartitionBalancer{})
	// Out of order and duplicated: the newest version must win.
	produce(t, ctx, cw,
		kafka.Message{Key: []byte(f.red.String()), Value: update(f.red, 2, "red", "close-contact", "arrival")},
		kafka.Message{Key: []byte(f.red.String()), Value: update(f.red, 1, "yellow", "arrival")},
		kafka.Message{Key: []byte(f.red.String()), Value: update(f.red, 2, "red", "close-contact", "arrival")},
		kafka.Message{Key: []byte(f.yellow.String()), Value: update(f.yellow, 1, "yellow", "area-medium")},
		kafka.Message{Key: []byte("bad"), Value: []byte("not json")},
	)
	evs := []scoring.Event{
		{Person: f.red, Kind: scoring.KindTest, Sub: uint8(scoring.TestPCR), Result: scoring.ResultPositive,
			At: scoring.MustTime("2020-03-15T08:00:00Z"), End: scoring.MustTime("2020-03-15T20:00:00Z"), ID: "t-1", Source: "lab"},
		{Person: f.red, Kind: scoring.KindVaccination, Dose: 1, Text: "CoronaVac", At: scoring.MustTime("2020-03-01T02:00:00Z"), ID: "v-1", Source: "registry"},
	}
	b, err := wire.EncodeEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, ctx, ew, kafka.Message{Partition: f.red.Partition(4), Value: b})

	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := token.GenerateKey()
	k2, _ := token.GenerateKey()
	f.signer, _ = token.NewSigner(token.SignerOptions{Keys: []*token.Key{k1, k2}, Issuer: "CN-ZJ"})
	f.revsPath = filepath.Join(t.TempDir(), "revocations.json")
	srv, err := New(Options{Kafka: kc.Config(), Signer: f.signer, Policy: pol, PseudonymKey: []byte(testSecret),
		RevocationsFile: f.revsPath})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{})
	srv.Register(svc)
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	f.url = svc.URL()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("codes run: %v", err)
		}
		svc.Close(context.Background())
		cw.Close()
		ew.Close()
		emb.Close()
	})
	// Ready only once restored: then the out-of-order updates are settled.
	for {
		res, err := http.Get(f.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("codes run ended before ready: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Updates after the restore are served too.
	produce(t, ctx, cw, kafka.Message{Key: []byte(f.yellow.String()), Value: update(f.yellow, 2, "yellow", "area-medium", "arrival")})
	return f
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if v != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	return res.StatusCode
}

func TestCodes_EndToEnd(t *testing.T) {
	f := startFixture(t)
	verifier := func() *token.Verifier {
		var jwks json.RawMessage
		getJSON(t, f.url+"/v1/trust-list", &jwks)
		trust, err := token.ParseTrustList(jwks)
		if err != nil || trust.Len() != 2 {
			t.Fatalf("trust list %s: %v", jwks, err)
		}
		var signed json.RawMessage
		getJSON(t, f.url+"/v1/revocations", &signed)
		revs, err := token.ParseSignedRevocations(signed, trust)
		if err != nil {
			t.Fatalf("revocations: %v", err)
		}
		return token.NewVerifier(trust, revs)
	}

	// The exact fields of a code.
	var raw map[string]any
	getJSON(t, f.url+"/v1/codes/"+f.red.String(), &raw)
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	if len(keys) != 10 {
		t.Errorf("fields %v, want person_key colour level policy version effective_at review_at reasons token expires_at", keys)
	}
	var red codeResponse
	var redReasons []map[string]any
	getJSON(t, f.url+"/v1/codes/"+f.red.String(), &struct {
		*codeResponse
		Reasons *[]map[string]any `json:"reasons"`
	}{&red, &redReasons})
	if red.Colour != "red" || red.Version != 2 || red.Level != 2 || len(redReasons) != 2 || redReasons[0]["rule"] != "close-contact" ||
		red.EffectiveAt == nil || *red.EffectiveAt != "2020-03-16T10:00:00+08:00" {
		t.Errorf("red person: %+v %v", red, redReasons)
	}
	cl, _, err := verifier().Verify(red.Token, time.Now())
	if err != nil {
		t.Fatalf("red token: %v", err)
	}
	if cl.Subject != f.red.String() || cl.Code.Colour != "red" || cl.Code.Version != 2 || strings.Join(cl.Code.Rules, ",") != "close-contact,arrival" ||
		time.Unix(cl.Expires, 0).In(time.FixedZone("", 8*3600)).Format(time.RFC3339) != red.ExpiresAt {
		t.Errorf("red claims %+v (expires_at %s)", cl, red.ExpiresAt)
	}

	// Never seen: green as the policy says, version 0.
	var unseen codeResponse
	getJSON(t, f.url+"/v1/codes/"+f.unseen.String(), &unseen)
	if unseen.Colour != "green" || unseen.Level != 0 || unseen.Version != 0 || unseen.EffectiveAt != nil || !strings.HasPrefix(unseen.Policy, "domestic@") {
		t.Errorf("unseen person: %+v", unseen)
	}
	if code := getJSON(t, f.url+"/v1/codes/not-a-key", nil); code != 400 {
		t.Errorf("bad key: %d", code)
	}

	// The citizen's app path: the key derived from the document, version 2
	// once the update produced after the restore arrives.
	var byID codeResponse
	for byID.Version != 2 {
		res, err := http.Post(f.url+"/v1/codes", "application/json", strings.NewReader(`{"id_type":"passport","id_number":"e 123-4567"}`))
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(res.Body).Decode(&byID)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("POST /v1/codes: %d", res.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if byID.PersonKey != f.yellow.String() || byID.Colour != "yellow" {
		t.Errorf("POST /v1/codes: %+v", byID)
	}
	res, err := http.Post(f.url+"/v1/codes", "application/json", strings.NewReader(`{"id_type":"resident_id","id_number":"110101199003077770"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || bytes.Contains(b, []byte("110101199003077770")) {
		t.Errorf("bad resident id: %d %s", res.StatusCode, b)
	}

	// The certificate: the test and the dose from hc.person-events.
	var cert certificateResponse
	getJSON(t, f.url+"/v1/certificates/"+f.red.String(), &cert)
	ccl, _, err := verifier().Verify(cert.Token, time.Now())
	if err != nil {
		t.Fatalf("certificate token: %v", err)
	}
	if ccl.Cert == nil || len(ccl.Cert.Tests) != 1 || ccl.Cert.Tests[0].Kind != "pcr" || ccl.Cert.Tests[0].Result != "positive" ||
		len(ccl.Cert.Vaccinations) != 1 || ccl.Cert.Vaccinations[0] != (token.Vaccination{Product: "CoronaVac", Dose: 1, Date: "2020-03-01"}) ||
		ccl.Code.Colour != "red" {
		t.Errorf("certificate claims %+v %+v", ccl.Code, ccl.Cert)
	}

	// Revocation: the operator's file, served signed.
	list := &token.Revocations{}
	list.AddToken(b64url(cl.TokenID))
	lb, _ := json.Marshal(list)
	if err := os.WriteFile(f.revsPath, lb, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := verifier().Verify(red.Token, time.Now()); !errors.Is(err, token.ErrRevokedToken) {
		t.Errorf("revoked token: %v", err)
	}
	if _, _, err := verifier().Verify(cert.Token, time.Now()); err != nil {
		t.Errorf("another token after a revocation: %v", err)
	}

	// Probes and metrics.
	res, err = http.Get(f.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`healthcode_codes_requests_total{code="200",endpoint="code"}`, "healthcode_codes_persons 2",
		`healthcode_codes_bad_messages_total{topic="hc.colour-updates"} 1`, "healthcode_codes_update_to_token_seconds_count",
		"healthcode_codes_request_duration_seconds_bucket"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code := getJSON(t, f.url+"/healthz", nil); code != 200 {
		t.Errorf("/healthz %d", code)
	}
}
