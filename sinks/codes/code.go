package codes

import (
	"encoding/json"
	"net/http"
	"time"

	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/codes/token"
)

// codeResponse is GET /v1/codes/{person_key}'s JSON: exactly these fields.
// effective_at and review_at are null when unknown or nothing is pending.
type codeResponse struct {
	PersonKey   string          `json:"person_key"`
	Colour      string          `json:"colour"`
	Level       int             `json:"level"`
	Policy      string          `json:"policy"`
	Version     uint64          `json:"version"`
	EffectiveAt *string         `json:"effective_at"`
	ReviewAt    *string         `json:"review_at"`
	Reasons     json.RawMessage `json:"reasons"`               // as on the topic
	CodeStatus  string          `json:"code_status,omitempty"` // "declaration_required": no code before a return-journey declaration
	Token       string          `json:"token"`
	ExpiresAt   string          `json:"expires_at"`
}

// certificateResponse is GET /v1/certificates/{person_key}'s JSON: the code's
// fields and the certificate's claim, with the certificate's token.
type certificateResponse struct {
	codeResponse
	Certificate *token.Certificate `json:"certificate"`
}

// colourOf fills a never-seen person's colour from the policy: level 0.
func (s *Server) colourOf(k scoring.PersonKey) Colour {
	c := s.store.Get(k)
	if !c.Known {
		c.Colour, c.Level, c.Policy = s.o.Policy.Colours[0], 0, s.o.Policy.Stamp()
		if s.o.Policy.Journeys.RequireDeclaration {
			c.CodeStatus = sinks.CodeStatusDeclarationRequired
		}
	}
	return c
}

// issue signs a token of c (and a certificate, if given) at the wall clock.
func (s *Server) issue(c Colour, cert *token.Certificate) (string, *token.Claims, error) {
	if !c.Known {
		c.Colour, c.Level, c.Policy = s.o.Policy.Colours[0], 0, s.o.Policy.Stamp()
	}
	code := token.Code{Colour: c.Colour, Level: c.Level, Policy: c.Policy, Version: c.Version, Rules: c.Rules}
	if !c.Review.IsZero() {
		code.ReviewAt = c.Review.Unix()
	}
	return s.o.Signer.Issue(s.o.Now(), c.Key.String(), code, cert)
}

func (s *Server) response(c Colour, text string, cl *token.Claims) codeResponse {
	out := codeResponse{PersonKey: c.Key.String(), Colour: c.Colour, Level: c.Level, Policy: c.Policy,
		Version: c.Version, Reasons: c.Reasons, CodeStatus: c.CodeStatus, Token: text,
		ExpiresAt: time.Unix(cl.Expires, 0).In(s.o.Zone).Format(time.RFC3339)}
	if !c.Effective.IsZero() {
		e := c.Effective.Format(time.RFC3339)
		out.EffectiveAt = &e
	}
	if !c.Review.IsZero() {
		r := c.Review.Format(time.RFC3339)
		out.ReviewAt = &r
	}
	return out
}

func (s *Server) getCode(w http.ResponseWriter, r *http.Request) {
	k, ok := personKey(w, r)
	if !ok {
		return
	}
	s.writeCode(w, k)
}

func (s *Server) writeCode(w http.ResponseWriter, k scoring.PersonKey) {
	c := s.colourOf(k)
	text, cl, err := s.issue(c, nil)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "sign token")
		return
	}
	writeJSON(w, s.response(c, text, cl))
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request) {
	k, ok := personKey(w, r)
	if !ok {
		return
	}
	c := s.colourOf(k)
	cert := s.store.Certificate(k, s.o.Zone)
	text, cl, err := s.issue(c, cert)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "sign token")
		return
	}
	writeJSON(w, certificateResponse{codeResponse: s.response(c, text, cl), Certificate: cert})
}
