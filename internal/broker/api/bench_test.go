package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/rekeyhq/rekey/internal/broker/brokertest"
	"github.com/rekeyhq/rekey/internal/broker/leasetest"
)

// BenchmarkCredentials is the whole issuance path as a workload sees it,
// from 20 concurrent clients: POST /broker/v1/credentials over HTTP, the
// token's signature verified, the default policy, a PostgreSQL login
// created with a verifier computed in Go, the lease row and its audit
// entry in the SQLite store (fsync on commit). It reports leases/s and
// the latency of one request at p50 and p99.
func BenchmarkCredentials(b *testing.B) {
	e := leasetest.New(b, "")
	const clients = 20
	toks := make([]string, clients)
	for i := range toks {
		toks[i] = e.Token(b, fmt.Sprintf("system:serviceaccount:orders:w%d", i))
	}
	body := []byte(`{"role":"rw"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	brokertest.Concurrently(b, clients, "leases/s", func(w int) error {
		req, _ := http.NewRequest("POST", e.Server.URL+"/broker/v1/credentials", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+toks[w])
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	if _, err := e.Leases.RevokeRole(b.Context(), "rw", "bench"); err != nil {
		b.Error(err)
	}
}
