package codes

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/codes/token"
)

// TestServer_DeclarationRequired: under a policy that issues no code before a
// return-journey declaration, the code and the page say so instead of green
// (for a person never seen, and for one whose update carries code_status),
// and a declared person's code is shown as usual.
func TestServer_DeclarationRequired(t *testing.T) {
	pol, err := policies.Load("international")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := token.GenerateKey()
	signer, _ := token.NewSigner(token.SignerOptions{Keys: []*token.Key{k}, Issuer: "CN-ZJ"})
	srv, err := New(Options{Signer: signer, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	undeclared, declared, unseen := scoring.PersonKey{1}, scoring.PersonKey{2}, scoring.PersonKey{3}
	for _, u := range []sinks.ColourUpdate{
		{PersonKey: undeclared.String(), Colour: "green", Level: 0, Version: 1, Policy: "international@2",
			EffectiveAt: "2020-03-10T08:00:00+08:00", Reasons: []sinks.Reason{}, CodeStatus: sinks.CodeStatusDeclarationRequired},
		{PersonKey: declared.String(), Colour: "green", Level: 0, Version: 3, Policy: "international@2",
			EffectiveAt: "2020-03-10T08:00:00+08:00", Reasons: []sinks.Reason{}},
	} {
		if _, err := srv.Store().Apply(&u); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/codes/{person_key}", srv.getCode)
	mux.HandleFunc("GET /codes/{person_key}", srv.getPage)
	get := func(path string) string {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	for _, c := range []struct {
		key    scoring.PersonKey
		status string
	}{{undeclared, sinks.CodeStatusDeclarationRequired}, {unseen, sinks.CodeStatusDeclarationRequired}, {declared, ""}} {
		var code codeResponse
		if err := json.Unmarshal([]byte(get("/v1/codes/"+c.key.String())), &code); err != nil {
			t.Fatal(err)
		}
		if code.CodeStatus != c.status || code.Colour != "green" {
			t.Errorf("%s: code_status %q colour %q, want %q green", c.key, code.CodeStatus, code.Colour, c.status)
		}
		page := get("/codes/" + c.key.String())
		apply := strings.Contains(page, "Apply with a return-journey declaration") && !strings.Contains(page, "qr.png") && !strings.Contains(page, "绿码")
		green := strings.Contains(page, "绿码") && strings.Contains(page, "qr.png")
		if (c.status != "" && !apply) || (c.status == "" && !green) {
			t.Errorf("%s: page shows apply %v green %v, want code_status %q", c.key, apply, green, c.status)
		}
	}
}
