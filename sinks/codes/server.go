package codes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"healthcode/pipeline/kafka"
	"healthcode/pipeline/service"
	"healthcode/pipeline/wire"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/codes/qr"
	"healthcode/sinks/codes/token"
	"healthcode/sources"
)

// Options configure a Server. The zero value is valid but for Signer and
// Policy (and Kafka.Brokers, for Run).
type Options struct {
	Kafka       kafka.Config // the Kafka client (brokers, TLS, SASL)
	ColourTopic string       // default "hc.colour-updates"
	EventsTopic string       // default "hc.person-events"

	Signer *token.Signer   // required: signs tokens and the revocation list
	Policy *scoring.Policy // required: the colour of a person never seen (level 0)
	// PseudonymKey derives person keys for POST /v1/codes; empty: that
	// endpoint answers 503.
	PseudonymKey []byte
	// RevocationsFile is the operator's unsigned revocation list (JSON, see
	// token.Revocations), re-read when it changes; "": nothing revoked.
	RevocationsFile string
	ExpectedPersons int              // presizes the store; default 0
	Zone            *time.Location   // zone of written times; default +08:00
	Now             func() time.Time // the wall clock of iat and exp; default time.Now
	Logger          *slog.Logger     // default slog.Default()
}

func (o *Options) setDefaults() {
	if o.ColourTopic == "" {
		o.ColourTopic = "hc.colour-updates"
	}
	if o.EventsTopic == "" {
		o.EventsTopic = "hc.person-events"
	}
	if o.Zone == nil {
		o.Zone = sinks.DefaultZone()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *Options) validate() error {
	if o.Signer == nil {
		return errors.New("codes: no signer")
	}
	if o.Policy == nil || len(o.Policy.Colours) == 0 {
		return errors.New("codes: no policy")
	}
	return nil
}

// Server is the code service.
type Server struct {
	o     Options
	store *Store
	m     *metrics

	colourReady, eventsReady atomic.Bool
	revs                     revocationFile
}

// New returns a server with an empty store.
func New(o Options) (*Server, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Server{o: o, store: NewStore(o.ExpectedPersons)}
	s.m = newMetrics(s.store)
	// At zero for both topics followed, so that a fresh service exports the
	// series and rate() sees the first bad message (the request series are
	// created with their handlers, in instrument).
	s.m.badMessage.WithLabelValues(o.ColourTopic)
	s.m.badMessage.WithLabelValues(o.EventsTopic)
	s.revs.path = o.RevocationsFile
	return s, nil
}

// Store returns the server's store.
func (s *Server) Store() *Store { return s.store }

// Ready reports nil once both topics have been read to the end offsets they
// had on start.
func (s *Server) Ready() error {
	switch {
	case !s.colourReady.Load():
		return fmt.Errorf("restoring colours from %s", s.o.ColourTopic)
	case !s.eventsReady.Load():
		return fmt.Errorf("restoring certificate facts from %s", s.o.EventsTopic)
	}
	return nil
}

// Register puts the handlers, metrics and readiness check on svc.
func (s *Server) Register(svc *service.Service) {
	s.m.register(svc.Registry())
	svc.AddCheck("codes", s.Ready)
	mux := svc.Mux()
	mux.HandleFunc("GET /v1/codes/{person_key}", s.m.instrument("code", s.getCode))
	mux.HandleFunc("GET /v1/codes/{person_key}/qr.png", s.m.instrument("qr", s.getQR))
	mux.HandleFunc("POST /v1/codes", s.m.instrument("code_by_id", s.postCode))
	mux.HandleFunc("GET /v1/certificates/{person_key}", s.m.instrument("certificate", s.getCertificate))
	mux.HandleFunc("GET /v1/trust-list", s.m.instrument("trust_list", s.getTrustList))
	mux.HandleFunc("GET /v1/revocations", s.m.instrument("revocations", s.getRevocations))
	mux.HandleFunc("GET /codes/{person_key}", s.m.instrument("page", s.getPage))
}

// Run follows both topics until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	if len(s.o.Kafka.Brokers) == 0 {
		return errors.New("codes: no brokers")
	}
	kc, err := kafka.New(s.o.Kafka)
	if err != nil {
		return fmt.Errorf("codes: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return follow(ctx, kc, s.o.ColourTopic, s.o.Logger, s.applyColour, func() {
			s.colourReady.Store(true)
			s.o.Logger.Info("codes: colours restored", slog.Int("persons", s.store.Len()))
		})
	})
	g.Go(func() error {
		return follow(ctx, kc, s.o.EventsTopic, s.o.Logger, s.eventApplier(), func() {
			s.eventsReady.Store(true)
			s.o.Logger.Info("codes: certificate facts restored")
		})
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (s *Server) applyColour(m *kafka.Message) {
	if _, err := s.store.ApplyJSON(m.Value); err != nil {
		s.bad(m, err)
		return
	}
	if s.colourReady.Load() && !m.Time.IsZero() {
		s.m.updateLag.Observe(s.o.Now().Sub(m.Time).Seconds())
	}
}

// eventApplier returns the handler of hc.person-events messages, which are
// called from every partition's goroutine: each call decodes into its own slice.
func (s *Server) eventApplier() func(*kafka.Message) {
	return func(m *kafka.Message) {
		evs, err := wire.DecodeEvents(m.Value, nil)
		if err != nil {
			s.bad(m, err)
			return
		}
		for i := range evs {
			s.store.ApplyEvent(&evs[i])
		}
	}
}

// bad counts and logs a message that cannot be applied. Every replica reads
// every message, so none of them writes it to the dead-letter topic (the
// stage that produced it owns that); the error never quotes the value.
func (s *Server) bad(m *kafka.Message, err error) {
	s.m.badMessage.WithLabelValues(m.Topic).Inc()
	s.o.Logger.Warn("codes: message not applied", slog.String("topic", m.Topic), slog.Int("partition", m.Partition),
		slog.Int64("offset", m.Offset), slog.String("error", err.Error()))
}

// revocationFile caches the operator's revocation list, re-read when its
// modification time changes.
type revocationFile struct {
	path string
	mu   sync.Mutex // protects mod and list
	mod  time.Time
	list *token.Revocations
}

func (f *revocationFile) load() (*token.Revocations, error) {
	if f.path == "" {
		return &token.Revocations{TokenIDs: []string{}, KeyIDs: []string{}}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return &token.Revocations{TokenIDs: []string{}, KeyIDs: []string{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	if f.list != nil && st.ModTime().Equal(f.mod) {
		return f.list, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	list, err := token.ParseRevocations(b)
	if err != nil {
		return nil, err
	}
	f.list, f.mod = list, st.ModTime()
	return list, nil
}

// personKey parses the path's person key, answering 400 when it is not one.
func personKey(w http.ResponseWriter, r *http.Request) (scoring.PersonKey, bool) {
	k, err := scoring.ParsePersonKey(r.PathValue("person_key"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "person_key must be 32 hexadecimal characters")
		return k, false
	}
	return k, true
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encode response")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// idRequest is POST /v1/codes's body.
type idRequest struct {
	IDType   string `json:"id_type"`
	IDNumber string `json:"id_number"`
}

// postCode derives the key of a document and answers as getCode. The number
// is neither logged nor kept: the request body is decoded into idRequest,
// which is dropped after the key is derived.
func (s *Server) postCode(w http.ResponseWriter, r *http.Request) {
	if len(s.o.PseudonymKey) == 0 {
		httpError(w, http.StatusServiceUnavailable, "this code service has no pseudonym key")
		return
	}
	var req idRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "the body must be a JSON object with id_type and id_number")
		return
	}
	valid := false
	for _, t := range sources.IDTypes() {
		valid = valid || t == req.IDType
	}
	num := sources.NormaliseIDNumber(req.IDNumber)
	switch {
	case !valid:
		httpError(w, http.StatusBadRequest, fmt.Sprintf("id_type must be one of %v", sources.IDTypes()))
		return
	case num == "" || len(num) > 64:
		httpError(w, http.StatusBadRequest, "id_number must be 1 to 64 characters")
		return
	case req.IDType == sources.IDTypeResident:
		if err := sources.CheckResidentID(num); err != nil {
			httpError(w, http.StatusBadRequest, "id_number: "+err.Error())
			return
		}
	}
	k := sources.PersonKey(s.o.PseudonymKey, req.IDType, num)
	req = idRequest{}
	s.writeCode(w, k)
}

// getQR answers the token as a PNG QR code (package qr: error correction
// level M, 512×512, whole-pixel modules on a quiet zone).
func (s *Server) getQR(w http.ResponseWriter, r *http.Request) {
	k, ok := personKey(w, r)
	if !ok {
		return
	}
	c := s.store.Get(k)
	text, _, err := s.issue(c, nil)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "sign token")
		return
	}
	png, err := qr.PNG(text)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encode QR code")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

func (s *Server) getTrustList(w http.ResponseWriter, _ *http.Request) {
	b, err := s.o.Signer.TrustList().MarshalJSON()
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encode trust list")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *Server) getRevocations(w http.ResponseWriter, _ *http.Request) {
	list, err := s.revs.load()
	if err != nil {
		s.o.Logger.Error("codes: revocation list", slog.String("error", err.Error()))
		httpError(w, http.StatusInternalServerError, "the revocation list cannot be read")
		return
	}
	b, err := s.o.Signer.SignRevocations(list, s.o.Now())
	if err != nil {
		httpError(w, http.StatusInternalServerError, "sign revocation list")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}
