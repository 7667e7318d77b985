package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/broker/leasetest"
)

// TestServeIssuesBrokerLeases is the broker through rekey serve: a
// workload proves itself with its token at /broker/v1/credentials and
// gets a real PostgreSQL login, which works, which the API lists under
// /api/v1/leases, and which it gives back with DELETE.
func TestServeIssuesBrokerLeases(t *testing.T) {
	e := leasetest.New(t, "")
	s := startServeEnv(t, map[string]string{"SHOP_DB_ADMIN_DSN": e.Cluster.AdminURL()},
		"--listen", "127.0.0.1:0", "--inventory", e.InventoryPath)
	base := "http://" + s.addr

	req, _ := http.NewRequest("POST", base+"/broker/v1/credentials", strings.NewReader(`{"role":"rw","ttl":"10m"}`))
	req.Header.Set("Authorization", "Bearer "+e.Token(t, leasetest.Subject))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var lease struct {
		LeaseID   string    `json:"lease_id"`
		Login     string    `json:"login"`
		Secret    string    `json:"secret"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	err = json.NewDecoder(resp.Body).Decode(&lease)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || lease.Login == "" || lease.Secret == "" {
		t.Fatalf("credentials: %d %+v %v", resp.StatusCode, lease, err)
	}
	conn, err := e.Connect(t.Context(), lease.Login, lease.Secret)
	if err != nil {
		t.Fatalf("the leased login does not log in: %v", err)
	}
	conn.Close(t.Context())

	// A workload token is not a rekey token, and a rekey request without
	// one is refused: the two doors do not open each other.
	req, _ = http.NewRequest("GET", base+"/api/v1/leases", nil)
	req.Header.Set("Authorization", "Bearer "+e.Token(t, leasetest.Subject))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a workload token on /api/v1: %d, want 401", resp.StatusCode)
	}

	req, _ = http.NewRequest("DELETE", base+"/broker/v1/leases/"+lease.LeaseID, nil)
	req.Header.Set("Authorization", "Bearer "+e.Token(t, leasetest.Subject))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE lease: %d, want 204", resp.StatusCode)
	}
	if conn, err := e.Connect(t.Context(), lease.Login, lease.Secret); err == nil {
		conn.Close(t.Context())
		t.Fatal("the login still logs in after its lease was given back")
	}
}
