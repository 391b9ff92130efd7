package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/skip2/go-qrcode"

	"healthcode/sinks/codes/token"
	"healthcode/sinks/pagetest"
)

// policies are the colours and stamps of policies/*.json; rules are rule ids
// a code's reasons carry.
var (
	policies = []struct {
		stamp   string
		colours []string
	}{
		{"domestic@1", []string{"green", "yellow", "red"}},
		{"international@2", []string{"green", "yellow", "orange"}},
		{"tianjin@1", []string{"green", "orange", "red"}},
	}
	rules = []string{"confirmed", "suspected", "close-contact", "arrival-high-risk", "post-quarantine",
		"secondary-contact", "companion", "risk-area", "risk-area-medium", "arrival-medium-risk",
		"officer-red", "journey-declared", "arrival-undeclared", "arrival-abroad", "arrival-other-flight"}
)

// tokens signs n tokens as the code service issues them: a random person
// key, colour, version, 0 to 5 rules, a review time or none, and for one in
// four a travel certificate of up to the service's 10 tests and 10 doses.
// Deterministic: crypto/rand (the key, the token ids, the ECDSA nonces) is
// seeded for the test, and so is the choice of claims.
func tokens(t *testing.T, n int) []string {
	t.Helper()
	cryptotest.SetGlobalRandom(t, 1)
	r := rand.New(rand.NewPCG(1, 2))
	k, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := token.NewSigner(token.SignerOptions{Keys: []*token.Key{k}, Issuer: "CN-ZJ"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2020, 3, 16, 10, 0, 0, 0, time.UTC)
	out := make([]string, n)
	for i := range out {
		p := policies[r.IntN(len(policies))]
		lvl := r.IntN(len(p.colours))
		code := token.Code{Colour: p.colours[lvl], Level: lvl, Policy: p.stamp, Version: r.Uint64N(1 << uint(1+r.IntN(40)))}
		for range r.IntN(6) {
			code.Rules = append(code.Rules, rules[r.IntN(len(rules))])
		}
		if r.IntN(2) == 0 {
			code.ReviewAt = now.Add(time.Duration(r.IntN(14*24)) * time.Hour).Unix()
		}
		var cert *token.Certificate
		if r.IntN(4) == 0 {
			cert = &token.Certificate{}
			for range r.IntN(11) {
				cert.Tests = append(cert.Tests, token.Test{Kind: []string{"pcr", "antigen", "igg", "igm"}[r.IntN(4)],
					Result: []string{"positive", "negative", "inconclusive"}[r.IntN(3)], SampledAt: now.Unix() - r.Int64N(1e7)})
			}
			for d := range r.IntN(11) {
				cert.Vaccinations = append(cert.Vaccinations, token.Vaccination{Product: []string{"CoronaVac", "BBIBP-CorV", "Ad5-nCoV"}[r.IntN(3)],
					Dose: d + 1, Date: now.AddDate(0, 0, -r.IntN(400)).Format(time.DateOnly)})
			}
		}
		key := fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
		text, _, err := s.Issue(now.Add(time.Duration(i)*time.Second), key, code, cert)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = text
	}
	return out
}

// everyVersion is one text per QR code version 1 to 40: "HC1:" and base45
// characters, nearly as long as that version holds at level M, drawn from a
// seeded source.
func everyVersion(t *testing.T) []string {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	r := rand.New(rand.NewPCG(3, 4))
	var out []string
	n := 1
	for v := 1; v <= 40; v++ {
		var text string
		for {
			b := []byte("HC1:")
			for range n {
				b = append(b, alphabet[r.IntN(len(alphabet))])
			}
			q, err := qrcode.New(string(b), qrcode.Medium)
			if err != nil || q.VersionNumber > v {
				break
			}
			text = string(b)
			n += 1 + n/40
		}
		if text == "" {
			t.Fatalf("no text for version %d", v)
		}
		out = append(out, text)
	}
	return out
}

// geometry measures a rendered code: the pixels per module (the top-left
// finder pattern's top row is 7 modules), the symbol's size in modules and
// its margins. It reports a module that is not a whole number of pixels or
// a quiet zone under QuietZone modules.
func geometry(t *testing.T, img image.Image) (version int) {
	t.Helper()
	dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
	b := img.Bounds()
	top, left, right := -1, -1, -1
	for y := b.Min.Y; y < b.Max.Y && top < 0; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if dark(x, y) {
				if top < 0 {
					top, left = y, x
				}
				right = x
			}
		}
	}
	run := 0
	for dark(left+run, top) {
		run++
	}
	if run%7 != 0 {
		t.Errorf("finder pattern %d pixels wide: not 7 whole modules", run)
		return 0
	}
	scale := run / 7
	width := right - left + 1
	if width%scale != 0 || (width/scale-17)%4 != 0 {
		t.Errorf("symbol %d pixels wide at %d pixels a module", width, scale)
		return 0
	}
	for _, m := range []int{left - b.Min.X, top - b.Min.Y, b.Max.X - 1 - right} {
		if m < QuietZone*scale {
			t.Errorf("quiet zone %d pixels, under %d modules of %d", m, QuietZone, scale)
		}
	}
	return (width/scale - 17) / 4
}

// TestReadBack renders 300 tokens of the sizes the service issues and one
// text of every QR code version, checks each image's geometry and reads it
// back with Read (healthcode verify's decoder): every one must come back
// unchanged.
func TestReadBack(t *testing.T) {
	texts := append(tokens(t, 300), everyVersion(t)...)
	versions := map[int]int{}
	var failed []string
	start := time.Now()
	for i, text := range texts {
		b, err := PNG(text)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if sz := img.Bounds().Size(); sz.X != Size || sz.Y != Size {
			t.Errorf("text %d: image %v, want %d×%d", i, sz, Size, Size)
		}
		v := geometry(t, img)
		versions[v]++
		got, err := Read(b)
		if err != nil || got != text {
			failed = append(failed, fmt.Sprintf("text %d (version %d, %d characters): %v", i, v, len(text), err))
		}
	}
	t.Logf("%d texts, versions %v, in %v", len(texts), versions, time.Since(start).Round(time.Millisecond))
	if len(failed) > 0 {
		t.Errorf("%d of %d QR codes not read back:\n%s", len(failed), len(texts), strings.Join(failed, "\n"))
	}
}

// TestReadScreenshot reads codes that are not the whole image, as in a
// screenshot of the citizen's page: the code under a coloured panel, on a
// grey page. Read then has to find it.
func TestReadScreenshot(t *testing.T) {
	texts := tokens(t, 100)
	var failed []string
	for i, text := range texts {
		b, err := PNG(text)
		if err != nil {
			t.Fatal(err)
		}
		code, _, err := image.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		// The page: grey, a red panel, the code; paletted, as the code is.
		page := image.NewPaletted(image.Rect(0, 0, 640, 860), color.Palette{
			color.Gray{0xee}, color.RGBA{0xc6, 0x28, 0x28, 0xff}, color.White, color.Black})
		for y := 40; y < 300; y++ {
			for x := 40; x < 600; x++ {
				page.SetColorIndex(x, y, 1)
			}
		}
		at := image.Pt(64, 320)
		for y := range Size {
			for x := range Size {
				if r, _, _, _ := code.At(x, y).RGBA(); r < 0x8000 {
					page.SetColorIndex(at.X+x, at.Y+y, 3)
				} else {
					page.SetColorIndex(at.X+x, at.Y+y, 2)
				}
			}
		}
		var shot bytes.Buffer
		if err := png.Encode(&shot, page); err != nil {
			t.Fatal(err)
		}
		if got, err := Read(shot.Bytes()); err != nil || got != text {
			failed = append(failed, fmt.Sprintf("text %d: %v", i, err))
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d QR codes not read in a screenshot:\n%s", len(failed), len(texts), strings.Join(failed, "\n"))
	}
}

// TestReadByZbar reads 100 of those tokens and every version with Debian's zbarimg, a decoder
// independent of the one Read uses.
func TestReadByZbar(t *testing.T) {
	zbar := pagetest.NeedTool(t, "zbarimg")
	texts := append(tokens(t, 100), everyVersion(t)...)
	dir := t.TempDir()
	files := make([]string, len(texts))
	for i, text := range texts {
		b, err := PNG(text)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("%03d.png", i))
		if err := os.WriteFile(files[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// One run for all files: zbarimg prints each file's symbol, in order.
	out, err := exec.Command(zbar, append([]string{"--raw", "-q"}, files...)...).Output()
	if err != nil {
		t.Errorf("zbarimg: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(texts) {
		t.Fatalf("zbarimg read %d QR codes of %d", len(got), len(texts))
	}
	for i := range texts {
		if got[i] != texts[i] {
			t.Errorf("text %d: zbarimg read %q, want %q", i, got[i], texts[i])
		}
	}
}
