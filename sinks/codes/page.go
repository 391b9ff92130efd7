package codes

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"healthcode/sinks"
)

// The citizen's page: one self-contained HTML document (inline CSS, the QR
// code from this server), no script, no external asset.
//
//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// colourNames gives the page's panel words and colours for the policies'
// colour names; others show their name on grey.
var colourNames = map[string]struct{ ZH, EN, CSS string }{
	"green":  {"绿码", "Green code", "#1e8e3e"},
	"yellow": {"黄码", "Yellow code", "#f9ab00"},
	"orange": {"橙码", "Orange code", "#e8710a"},
	"red":    {"红码", "Red code", "#d93025"},
}

type pageData struct {
	Key, Colour, ColourZH, ColourEN, CSS string
	Level                                int
	Policy, Effective, Review, Expires   string
	Version                              uint64
	Reasons                              []sinks.Reason
	Apply                                bool // no code before a declaration: no QR code either
}

func (s *Server) getPage(w http.ResponseWriter, r *http.Request) {
	k, ok := personKey(w, r)
	if !ok {
		return
	}
	c := s.colourOf(k)
	_, cl, err := s.issue(c, nil)
	if err != nil {
		http.Error(w, "sign token", http.StatusInternalServerError)
		return
	}
	d := pageData{Key: k.String(), Colour: c.Colour, Level: c.Level, Policy: c.Policy, Version: c.Version,
		Expires: time.Unix(cl.Expires, 0).In(s.o.Zone).Format("2006-01-02 15:04 MST-07:00")}
	n, ok := colourNames[c.Colour]
	if !ok {
		n = struct{ ZH, EN, CSS string }{c.Colour, c.Colour, "#5f6368"}
	}
	if c.CodeStatus == sinks.CodeStatusDeclarationRequired && c.Level == 0 {
		// No code before a declaration: say so, never green.
		n, d.Colour, d.Apply = struct{ ZH, EN, CSS string }{"请先申报回国行程", "Apply with a return-journey declaration", "#5f6368"}, sinks.CodeStatusDeclarationRequired, true
	}
	d.ColourZH, d.ColourEN, d.CSS = n.ZH, n.EN, n.CSS
	if !c.Effective.IsZero() {
		d.Effective = c.Effective.Format("2006-01-02 15:04 -07:00")
	}
	if !c.Review.IsZero() {
		d.Review = c.Review.Format("2006-01-02 15:04 -07:00")
	}
	if err := json.Unmarshal(c.Reasons, &d.Reasons); err != nil {
		http.Error(w, "reasons", http.StatusInternalServerError)
		return
	}
	for i := range d.Reasons {
		if t, err := time.Parse(time.RFC3339, d.Reasons[i].Until); err == nil {
			d.Reasons[i].Until = t.Format("2006-01-02 15:04 -07:00")
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'")
	if err := pageTmpl.Execute(w, d); err != nil {
		s.o.Logger.Warn("codes: render page: " + err.Error())
	}
}
