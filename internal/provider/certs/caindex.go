package certs

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/inventory"
)

// caIndex is an `openssl ca` database: index.txt rows and, where the
// newcerts directory holds it, each issued certificate.
type caIndex struct {
	path string
	ca   *x509.Certificate // the CA's own certificate, when the inventory names it
	rows []indexRow
}

type indexRow struct {
	line     int
	status   byte // V valid, R revoked, E expired
	expires  time.Time
	revoked  *time.Time
	serial   string
	subject  string
	cert     *x509.Certificate // from certs_dir/SERIAL.pem, nil when absent
	certPath string
}

// caIndex reads the index, each row's certificate from certs_dir and the
// CA's certificate; each certificate is also collected, so a leaked key
// is matched to what the CA issued even when no copy is elsewhere.
func (col *collection) caIndex(pl *inventory.X509Places) *caIndex {
	ca := pl.CA
	idx := &caIndex{path: pl.Abs(ca.Index)}
	if ca.Cert != "" {
		path := pl.Abs(ca.Cert)
		if data, ok := col.Read(path); ok {
			certs, msg := parseCerts(data)
			switch {
			case msg != "":
				col.problem(path, "%s", msg)
			case len(certs) > 0:
				idx.ca = certs[0]
				col.add(certs[0], Location{Kind: "file", Where: path + " (the CA's certificate)"})
			}
		}
	}
	data, ok := col.Read(idx.path)
	if !ok {
		return idx
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		row, err := parseIndexRow(line)
		if err != nil {
			col.problem(fmt.Sprintf("%s:%d", idx.path, n), "%v", err)
			continue
		}
		row.line = n
		if ca.CertsDir != "" {
			row.certPath = filepath.Join(pl.Abs(ca.CertsDir), row.serial+".pem")
			if b, err := os.ReadFile(row.certPath); err == nil {
				certs, msg := parseCerts(b)
				switch {
				case msg != "":
					col.problem(row.certPath, "%s", msg)
				case len(certs) > 0:
					row.cert = certs[0]
					col.add(row.cert, Location{Kind: "ca-index", Where: fmt.Sprintf("%s:%d serial %s", idx.path, n, row.serial)})
				}
			}
		}
		idx.rows = append(idx.rows, row)
	}
	return idx
}

// parseIndexRow reads "status \t expiry \t revocation[,reason] \t serial
// \t filename \t subject".
func parseIndexRow(line string) (indexRow, error) {
	f := strings.Split(line, "\t")
	if len(f) != 6 {
		return indexRow{}, fmt.Errorf("not an openssl ca index row: %d tab-separated fields, want 6", len(f))
	}
	if len(f[0]) != 1 || !strings.Contains("VRE", f[0]) {
		return indexRow{}, fmt.Errorf("status %q: want V, R or E", f[0])
	}
	row := indexRow{status: f[0][0], serial: strings.ToUpper(f[3]), subject: f[5]}
	exp, err := indexTime(f[1])
	if err != nil {
		return indexRow{}, fmt.Errorf("expiry %q: %v", f[1], err)
	}
	row.expires = exp
	if row.status == 'R' {
		when, _, _ := strings.Cut(f[2], ",")
		t, err := indexTime(when)
		if err != nil {
			return indexRow{}, fmt.Errorf("revocation date %q: %v", f[2], err)
		}
		row.revoked = &t
	}
	if row.serial == "" || strings.Trim(row.serial, "0123456789ABCDEF") != "" {
		return indexRow{}, fmt.Errorf("serial %q is not hex", f[3])
	}
	return row, nil
}

// indexTime reads an ASN.1 UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime
// (YYYYMMDDHHMMSSZ), as openssl writes them.
func indexTime(s string) (time.Time, error) {
	layout := "060102150405Z"
	if len(s) == 15 {
		layout = "20060102150405Z"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want YYMMDDHHMMSSZ")
	}
	return t, nil
}

// rowOf finds the index row of a certificate: the row whose newcerts copy
// is the same certificate, or, without a copy, the row with its serial
// when the index's CA signed it.
func (idx *caIndex) rowOf(c *x509.Certificate) *indexRow {
	serial := serialHex(c)
	for i := range idx.rows {
		r := &idx.rows[i]
		if r.cert != nil && r.cert.Equal(c) {
			return r
		}
		if r.cert == nil && r.serial == serial && idx.ca != nil && c.CheckSignatureFrom(idx.ca) == nil {
			return r
		}
	}
	return nil
}

// owns reports whether the index is the records of the CA whose
// certificate is ca: the inventory names ca as its certificate, or a
// certificate in its newcerts verifies with ca's key.
func (idx *caIndex) owns(ca *x509.Certificate) bool {
	if idx.ca != nil {
		return idx.ca.Equal(ca) || bytes.Equal(idx.ca.RawSubjectPublicKeyInfo, ca.RawSubjectPublicKeyInfo)
	}
	for _, r := range idx.rows {
		if r.cert != nil && r.cert.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

var indexStatus = map[byte]string{'V': StatusValid, 'R': StatusRevoked, 'E': StatusExpired}

// signedBy lists what the CA certificates cas (whose key leaked) signed:
// every row of an index they own, then every certificate found in the
// places that verifies with one of them and is not in the index.
func signedBy(cas []*x509.Certificate, found []*Certificate, idx *caIndex) []Issued {
	out := []Issued{}
	listed := map[string]bool{}
	for _, ca := range cas {
		if idx == nil || !idx.owns(ca) {
			continue
		}
		for _, r := range idx.rows {
			is := Issued{Serial: r.serial, Subject: r.subject, Status: indexStatus[r.status], NotAfter: r.expires, RevokedAt: r.revoked,
				Where: fmt.Sprintf("%s:%d", idx.path, r.line)}
			out = append(out, is)
			if r.cert != nil {
				listed[string(r.cert.Raw)] = true
			}
		}
		break
	}
	for _, f := range found {
		if listed[string(f.cert.Raw)] {
			continue
		}
		for _, ca := range cas {
			if f.cert.Equal(ca) || f.cert.CheckSignatureFrom(ca) != nil {
				continue
			}
			var where []string
			for _, l := range f.Locations {
				where = append(where, l.String())
			}
			out = append(out, Issued{Serial: f.Serial, Subject: f.Subject, Status: f.Status, NotAfter: f.NotAfter, RevokedAt: f.RevokedAt, Where: strings.Join(where, ", ")})
			break
		}
	}
	return out
}
