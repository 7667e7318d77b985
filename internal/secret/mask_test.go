package secret

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestMaskerMasksEveryForm(t *testing.T) {
	pw := `p@ss:w/rd"<1>&x`
	m := NewMasker(nil)
	m.Add(FromString(pw), FromString("abc")) // too short to mask
	js, _ := json.Marshal(pw)
	for _, form := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw), base64.StdEncoding.EncodeToString([]byte(pw)), string(js)} {
		got := m.Mask("DATABASE_URL=" + form + " end")
		if strings.Contains(got, form) || !strings.Contains(got, Redacted) {
			t.Errorf("Mask(%q) = %q", form, got)
		}
	}
	if got := m.Mask("abc def"); got != "abc def" {
		t.Errorf("a 3-byte secret masked words: %q", got)
	}
	var nilMasker *Masker
	if nilMasker.Mask("x") != "x" || nilMasker.Holds("x") {
		t.Error("the nil Masker changed text")
	}
}

func TestMaskerMatchesFingerprints(t *testing.T) {
	fp, err := NewFingerprinter(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, leaked := range []string{"Leaked-Secret-9Xq", "with:colon@and/slash", "sp%ce+plus"} {
		m := NewMasker(fp)
		m.AddFingerprint(fp.Of(FromString(leaked)))
		for _, line := range []string{
			"PASSWORD=" + leaked,
			"url postgres://orders:" + url.QueryEscape(leaked) + "@db:5432/orders?sslmode=disable",
			`{"password":"` + leaked + `"}`,
			"password '" + leaked + "' refused",
		} {
			got := m.Mask(line)
			if strings.Contains(got, leaked) || strings.Contains(got, url.QueryEscape(leaked)) || !strings.Contains(got, Redacted) {
				t.Errorf("%q: Mask(%q) = %q", leaked, line, got)
			}
		}
		if got := m.Mask("nothing secret here: Leaked-Secret-9X"); got != "nothing secret here: Leaked-Secret-9X" {
			t.Errorf("a near miss was masked: %q", got)
		}
	}
}
