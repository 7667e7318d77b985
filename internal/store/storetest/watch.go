package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/store"
)

func testWatchOffsets(t *testing.T, h Harness) {
	s := fresh(t, h)
	if _, ok, err := s.Offset(ctx(), "k-none"); ok || err != nil {
		t.Fatalf("Offset of an unknown key: ok %v, err %v", ok, err)
	}
	short := store.Offset{Key: "k-short", HeadLen: 300, Bytes: 300, Line: 2, Path: "/var/log/app.log"}
	other := store.Offset{Key: "k-other", HeadLen: 1024, Bytes: 9000, Line: 40, Done: true, Path: "/var/log/app.log.2.gz"}
	for _, o := range []store.Offset{short, other} {
		if err := s.PutOffset(ctx(), o, ""); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.Offset(ctx(), "k-other")
	if err != nil || !ok {
		t.Fatalf("Offset: ok %v, err %v", ok, err)
	}
	got.Updated = time.Time{}
	check(t, "offset", got, other)
	shorts, err := s.ShortOffsets(ctx(), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if len(shorts) != 1 || shorts[0].Key != "k-short" {
		t.Fatalf("ShortOffsets = %s, want k-short alone", show(shorts))
	}
	// The short file grew past a KiB: its key is replaced in one write.
	grown := store.Offset{Key: "k-grown", HeadLen: 1024, Bytes: 1500, Line: 9, Path: "/var/log/app.log"}
	if err := s.PutOffset(ctx(), grown, "k-short"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Offset(ctx(), "k-short"); ok {
		t.Fatal("the replaced short key is still stored")
	}
	if got, ok, _ := s.Offset(ctx(), "k-grown"); !ok || got.Bytes != 1500 || got.Line != 9 {
		t.Fatalf("re-keyed offset = %s, %v", show(got), ok)
	}
	if err := s.PutOffset(ctx(), store.Offset{HeadLen: 3}, ""); err == nil {
		t.Fatal("PutOffset took an offset without a key")
	}
}

func testWatchBaselines(t *testing.T, h Harness) {
	s := fresh(t, h)
	in := map[string]json.RawMessage{
		"orders_svc":           json.RawMessage(`{"events":3,"sources":{"10.0.4.7":3}}`),
		"AKIAIOSFODNN7EXAMPLE": json.RawMessage(`{"events":1}`),
	}
	if err := s.PutBaselines(ctx(), in); err != nil {
		t.Fatal(err)
	}
	in["orders_svc"] = json.RawMessage(`{"events":4,"sources":{"10.0.4.7":4}}`)
	if err := s.PutBaselines(ctx(), map[string]json.RawMessage{"orders_svc": in["orders_svc"]}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Baselines(ctx(), []string{"orders_svc", "AKIAIOSFODNN7EXAMPLE", "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("Baselines = %d entries, want 2: %s", len(got), show(got))
	}
	for k, v := range in {
		var a, b any
		if err := json.Unmarshal(got[k], &a); err != nil {
			t.Fatalf("baseline %s: %v", k, err)
		}
		json.Unmarshal(v, &b) //nolint:errcheck // our own literal
		check(t, "baseline "+k, a, b)
	}
	if err := s.PutBaselines(ctx(), map[string]json.RawMessage{"x": json.RawMessage(`{not json`)}); err == nil {
		t.Fatal("PutBaselines took a body that is not JSON")
	}
}

// Two processes (two handles) writing baselines of the same credentials
// at once, as two watchers following one log do: neither write fails.
func testWatchBaselinesConcurrent(t *testing.T, h Harness) {
	addr := h.New(t)
	stores := []store.Store{open(t, h, addr), open(t, h, addr)}
	bs := map[string]json.RawMessage{}
	for i := range 40 {
		bs[fmt.Sprintf("login_%02d", i)] = json.RawMessage(fmt.Sprintf(`{"events":%d}`, i))
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2*20)
	for _, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := st.PutBaselines(ctx(), bs); err != nil {
					errc <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("concurrent PutBaselines: %v", err)
	}
}

func testCanaries(t *testing.T, h Harness) {
	s := fresh(t, h)
	c := store.Canary{System: "shop-db", Login: "backup_admin", Created: at(time.Hour)}
	if err := s.PutCanary(ctx(), c); err != nil {
		t.Fatal(err)
	}
	again := c
	again.Created = at(5 * time.Hour)
	if err := s.PutCanary(ctx(), again); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCanary(ctx(), store.Canary{System: "cache", Login: "ops_debug", Created: at(0)}); err != nil {
		t.Fatal(err)
	}
	// A key canary made again: the first creation time, the new key.
	key := store.Canary{System: "aws", Login: "ci-deploy-old", KeyID: "AKIAFIRSTKEY0000000A", Created: at(2 * time.Hour)}
	if err := s.PutCanary(ctx(), key); err != nil {
		t.Fatal(err)
	}
	rekeyed := key
	rekeyed.KeyID, rekeyed.Created = "AKIASECONDKEY000000B", at(6*time.Hour)
	if err := s.PutCanary(ctx(), rekeyed); err != nil {
		t.Fatal(err)
	}
	key.KeyID = rekeyed.KeyID
	got, err := s.Canaries(ctx())
	if err != nil {
		t.Fatal(err)
	}
	check(t, "canaries", got, []store.Canary{key, {System: "cache", Login: "ops_debug", Created: at(0)}, c})
	if err := s.PutCanary(ctx(), store.Canary{System: "shop-db"}); err == nil {
		t.Fatal("PutCanary took a canary without a login")
	}
}

func testRevokedLogins(t *testing.T, h Harness) {
	s := fresh(t, h)
	inc, _ := mustOpen(t, s, newIncident(t, "revoked logins secret value"))
	body := json.RawMessage(`{"strategy":"emergency","steps":[
		{"id":"s1","kind":"issue","system":"shop-db","identity":"orders_svc","login":"orders_svc_2"},
		{"id":"s2","kind":"revoke","system":"shop-db","identity":"orders_svc"},
		{"id":"s3","kind":"revoke","system":"cache","identity":"orders"}]}`)
	if err := s.PutPlan(ctx(), inc.ID, store.Plan{Strategy: "emergency", Created: at(0), Body: body}); err != nil {
		t.Fatal(err)
	}
	// s1 is done but issues; s2 is done and revokes; s3 has not run.
	for _, st := range []store.Step{
		{StepID: "s1", State: "done", Started: ptr(at(time.Minute)), Finished: ptr(at(2 * time.Minute))},
		{StepID: "s2", State: "done", Started: ptr(at(3 * time.Minute)), Finished: ptr(at(4 * time.Minute))},
		{StepID: "s3", State: "running", Started: ptr(at(5 * time.Minute))},
	} {
		if err := s.PutStep(ctx(), inc.ID, st); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []store.Lease{
		{ID: "l1", IncidentID: inc.ID, System: "shop-db", Login: "lease_a", Issued: at(0), State: store.LeaseRevoked},
		{ID: "l2", IncidentID: inc.ID, System: "shop-db", Login: "lease_b", Issued: at(0), State: store.LeaseActive},
	} {
		if err := s.PutLease(ctx(), l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.RevokedLogins(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("RevokedLogins = %s, want lease_a and orders_svc", show(got))
	}
	if g := got[0]; g.Login != "lease_a" || g.Via != "lease" || g.System != "shop-db" || g.IncidentID != inc.ID {
		t.Errorf("first revoked = %s", show(g))
	}
	if g := got[1]; g.Login != "orders_svc" || g.Via != "step" || !g.At.Equal(at(4*time.Minute)) || g.IncidentID != inc.ID {
		t.Errorf("second revoked = %s", show(g))
	}
}
