package token

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool returns the path of a tool a test needs: missing, the test
// skips, but fails in CI (env CI set), where .ci/run installs it.
func needTool(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing (CI installs chromium zbar-tools python3-cbor2 python3-cryptography): %v", path, err)
		}
		t.Skipf("%s is missing: %v", path, err)
	}
	return path
}

// TestInterop_Python verifies tokens with an implementation this project did
// not write: Debian's python3-cbor2 and python3-cryptography.
func TestInterop_Python(t *testing.T) {
	py := needTool(t, "/usr/bin/python3")
	if out, err := exec.Command(py, "-c", "import cbor2, cryptography").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-cbor2 or python3-cryptography missing: %v: %s", err, out)
		}
		t.Skipf("python3-cbor2 or python3-cryptography missing: %s", out)
	}
	k1, _ := GenerateKey()
	k2, _ := GenerateKey()
	s := newTestSigner(t, k1, k2)
	trust, _ := s.TrustList().MarshalJSON()
	dir := t.TempDir()
	trustPath := filepath.Join(dir, "trust-list.json")
	if err := os.WriteFile(trustPath, trust, 0o644); err != nil {
		t.Fatal(err)
	}
	code := Code{Colour: "yellow", Level: 1, Policy: "domestic@3", Version: 5, Rules: []string{"area-medium", "arrival"},
		ReviewAt: t0.Add(6 * time.Hour).Unix()}
	cert := &Certificate{Tests: []Test{{Kind: "pcr", Result: "negative", SampledAt: t0.Unix() - 7200}, {Kind: "igg", Result: "positive", SampledAt: t0.Unix() - 3600}},
		Vaccinations: []Vaccination{{Product: "BBIBP-CorV 北京生物", Dose: 1, Date: "2021-01-05"}}}
	good, cl, err := s.Issue(t0, "00112233445566778899aabbccddeeff", code, cert)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := NewSigner(SignerOptions{Keys: []*Key{k1}})
	oldTok, _, _ := old.Issue(t0, "00112233445566778899aabbccddeeff", testCode, nil)
	stranger, _, _ := newTestSigner(t).Issue(t0, "k", testCode, nil)
	tokens := []string{good, oldTok, retamper(t, s, oldTok), stranger}

	cmd := exec.Command(py, filepath.Join("..", "testdata", "verify_token.py"), trustPath, strconv.FormatInt(t0.Unix()+60, 10))
	cmd.Stdin = strings.NewReader(strings.Join(tokens, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("verify_token.py: %v: %s", err, stderr.String())
	}
	type result struct {
		OK     bool           `json:"ok"`
		Error  string         `json:"error"`
		Kid    string         `json:"kid"`
		Claims map[string]any `json:"claims"`
	}
	var res []result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		res = append(res, r)
	}
	if len(res) != len(tokens) {
		t.Fatalf("%d results for %d tokens: %s", len(res), len(tokens), out)
	}
	r := res[0]
	if !r.OK || r.Kid != k2.ID.String() {
		t.Fatalf("the newest key's token: %+v", r)
	}
	hc, _ := r.Claims["hc"].(map[string]any)
	ithc, _ := r.Claims["ithc"].(map[string]any)
	if r.Claims["1"] != "CN-ZJ" || r.Claims["2"] != cl.Subject || r.Claims["7"] != hex.EncodeToString(cl.TokenID) ||
		r.Claims["6"] != float64(t0.Unix()) || r.Claims["4"] != float64(code.ReviewAt) ||
		hc["colour"] != "yellow" || hc["version"] != float64(5) || hc["policy"] != "domestic@3" || len(hc["rules"].([]any)) != 2 {
		t.Errorf("python read claims %v", r.Claims)
	}
	vacc := ithc["vaccinations"].([]any)[0].(map[string]any)
	if vacc["product"] != "BBIBP-CorV 北京生物" || len(ithc["tests"].([]any)) != 2 {
		t.Errorf("python read certificate %v", ithc)
	}
	if !res[1].OK || res[1].Kid != k1.ID.String() {
		t.Errorf("the older trusted key's token: %+v", res[1])
	}
	if res[2].OK || res[2].Error != "bad signature" {
		t.Errorf("tampered token: %+v", res[2])
	}
	if res[3].OK || res[3].Error != "unknown kid" {
		t.Errorf("untrusted key's token: %+v", res[3])
	}
}
