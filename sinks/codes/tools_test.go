package codes

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthcode/sinks/pagetest"

	"healthcode/sinks/codes/token"
)

func fetch(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, res.StatusCode, b)
	}
	return b
}

// TestCodes_QRReadByZbar reads the served QR code back with Debian's zbarimg
// and verifies the token it holds.
func TestCodes_QRReadByZbar(t *testing.T) {
	zbar := pagetest.NeedTool(t, "zbarimg")
	f := startFixture(t)
	png := fetch(t, f.url+"/v1/codes/"+f.red.String()+"/qr.png")
	path := filepath.Join(pagetest.ArtifactDir(t), "qr-red.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--raw", "-q", path).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	text := strings.TrimSpace(string(out))
	cl, _, err := token.NewVerifier(f.signer.TrustList(), nil).Verify(text, time.Now())
	if err != nil {
		t.Fatalf("token read from the QR code: %v (%q)", err, text)
	}
	if cl.Subject != f.red.String() || cl.Code.Colour != "red" {
		t.Errorf("QR claims %+v", cl)
	}
}

// TestCodes_CitizenPageInChromium renders the citizen's page of a red and of
// a never-seen person in headless Chromium, keeps screenshots, and checks the
// panel's colour and the reasons in both languages.
func TestCodes_CitizenPageInChromium(t *testing.T) {
	pagetest.NeedTool(t, "chromium")
	f := startFixture(t)
	dir := pagetest.ArtifactDir(t)
	check := func(name, key, colour, css string, wantText ...string) {
		t.Helper()
		url := f.url + "/codes/" + key
		dom := string(pagetest.Chromium(t, "--dump-dom", url))
		if !strings.Contains(dom, `class="panel colour-`+colour+`"`) || !strings.Contains(dom, `data-colour="`+colour+`"`) ||
			!strings.Contains(dom, "background: "+css) {
			t.Errorf("%s: the page's panel is not %s (%s):\n%s", name, colour, css, dom)
		}
		for _, w := range wantText {
			if !strings.Contains(dom, w) {
				t.Errorf("%s: the page lacks %q", name, w)
			}
		}
		shot := filepath.Join(dir, "citizen-page-"+name+".png")
		pagetest.Chromium(t, "--screenshot="+shot, "--window-size=480,1100", "--hide-scrollbars", url)
		st, err := os.Stat(shot)
		if err != nil || st.Size() < 1000 {
			t.Errorf("%s: no screenshot at %s: %v", name, shot, err)
		}
		t.Logf("screenshot: %s", shot)
	}
	check("red", f.red.String(), "red", "#d93025", "红码", "Red code", "因为 close-contact", "because arrival",
		"14 days pass", "/v1/codes/"+f.red.String()+"/qr.png", "二维码有效期至 Valid until")
	check("green-unseen", f.unseen.String(), "green", "#1e8e3e", "绿码", "No risk reasons.")
}
