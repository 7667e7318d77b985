package awssm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider/awsiam/awsiamtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

func adminOf(srv *awsiamtest.Server) secret.Secret {
	id, sk := srv.AdminKey()
	return keyJSON(id, sk)
}

func keyJSON(id, sk string) secret.Secret {
	return secret.FromString(fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q}`, id, sk))
}

func target(t *testing.T, srv *awsiamtest.Server, admin secret.Secret, id, key, userKey string) *Target {
	t.Helper()
	tg, err := New(context.Background(), Config{Endpoint: srv.URL, Admin: admin, SecretID: id, Key: key, UserKey: userKey})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

const newSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYNEWSECRET"

// A JSON secret keeps its other fields; key and user_key change, in a new
// AWSCURRENT version; writing it again creates no version.
func TestWriteJSONKeepsOtherFields(t *testing.T) {
	srv := awsiamtest.New()
	defer srv.Close()
	srv.CreateSecret("prod/deployer", `{"region":"eu-west-1","secret_access_key":"old","access_key_id":"AKIAOLD"}`)
	tg := target(t, srv, adminOf(srv), "prod/deployer", "secret_access_key", "access_key_id")
	ctx := context.Background()
	v := deliver.Value{User: "AKIANEW", Secret: secret.FromString(newSecret)}

	ch, err := tg.Plan(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Empty() || len(ch.Edits[0].Parts) != 2 || strings.Contains(ch.String(), newSecret) {
		t.Errorf("plan: %s", ch)
	}
	if err := tg.Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	raw, _ := srv.SecretValue("prod/deployer")
	var got map[string]string
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	if got["region"] != "eu-west-1" || got["secret_access_key"] != newSecret || got["access_key_id"] != "AKIANEW" {
		t.Errorf("secret after write: %v", got)
	}
	if n := srv.SecretVersions("prod/deployer"); n != 2 {
		t.Errorf("versions after one write: %d", n)
	}
	if ok, err := deliver.Delivered(ctx, tg, v); err != nil || !ok {
		t.Errorf("Delivered = %v, %v", ok, err)
	}
	if err := tg.Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	if n := srv.SecretVersions("prod/deployer"); n != 2 {
		t.Errorf("writing the same value again made version %d", n)
	}
	if ch, _ := tg.Plan(ctx, v); !ch.Empty() {
		t.Errorf("plan after delivery: %s", ch)
	}
}

// Without a key the value is the secret itself; a secret created without
// a value gets its first version.
func TestWritePlain(t *testing.T) {
	srv := awsiamtest.New()
	defer srv.Close()
	arn := srv.CreateSecret("plain", "")
	tg := target(t, srv, adminOf(srv), arn, "", "")
	ctx := context.Background()
	if _, err := tg.Current(ctx); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Current of a secret without value: %v", err)
	}
	if err := tg.Check(ctx); err != nil {
		t.Errorf("Check of an existing secret without value: %v", err)
	}
	if err := tg.Write(ctx, deliver.Value{Secret: secret.FromString(newSecret)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.SecretValue("plain"); got != newSecret {
		t.Errorf("value = %q", got)
	}
	st, err := tg.Current(ctx)
	if err != nil || !st.Secret.Equal(secret.FromString(newSecret)) {
		t.Errorf("Current = %v", err)
	}
}

// A missing secret fails the preflight and the write with NotFound (rekey
// does not create secrets); a value that is no JSON object is Invalid.
func TestMissingOrMisshapen(t *testing.T) {
	srv := awsiamtest.New()
	defer srv.Close()
	ctx := context.Background()
	missing := target(t, srv, adminOf(srv), "nope", "k", "")
	if err := missing.Check(ctx); errs.KindOf(err) != errs.NotFound || !strings.Contains(err.Error(), "no such secret") {
		t.Errorf("Check of a missing secret: %v", err)
	}
	if err := missing.Write(ctx, deliver.Value{Secret: secret.FromString(newSecret)}); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Write to a missing secret: %v", err)
	}
	srv.CreateSecret("flat", "not-json-old-value")
	flat := target(t, srv, adminOf(srv), "flat", "k", "")
	err := flat.Check(ctx)
	if errs.KindOf(err) != errs.Invalid || strings.Contains(err.Error(), "not-json-old-value") {
		t.Errorf("Check of a non-JSON secret with a key: %v", err)
	}
	if err := flat.Write(ctx, deliver.Value{Secret: secret.FromString(newSecret)}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("Write to a non-JSON secret with a key: %v", err)
	}
	if got, _ := srv.SecretValue("flat"); got != "not-json-old-value" {
		t.Errorf("the non-JSON secret changed")
	}
}

// A credential that may read but not write gets one line naming
// secretsmanager:PutSecretValue, and the secret is unchanged; a refused
// key is a permission error too.
func TestPermission(t *testing.T) {
	srv := awsiamtest.New()
	defer srv.Close()
	srv.CreateSecret("ro", `{"k":"old"}`)
	srv.CreateUser("reader")
	srv.PutUserPolicy("reader", "read", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"*"}]}`)
	id, sk := srv.CreateKey("reader")
	tg := target(t, srv, keyJSON(id, sk), "ro", "k", "")
	ctx := context.Background()
	if err := tg.Check(ctx); err != nil {
		t.Fatalf("Check with read permission: %v", err)
	}
	err := tg.Write(ctx, deliver.Value{Secret: secret.FromString(newSecret)})
	if errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "secretsmanager:PutSecretValue") || strings.Contains(err.Error(), newSecret) {
		t.Errorf("Write without PutSecretValue: %v", err)
	}
	if got, _ := srv.SecretValue("ro"); got != `{"k":"old"}` {
		t.Errorf("secret changed: %s", got)
	}
	wrong := target(t, srv, keyJSON(id, "wrong-secret"), "ro", "k", "")
	if err := wrong.Check(ctx); errs.KindOf(err) != errs.Permission || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Check with a wrong secret key: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []Config{
		{},
		{SecretID: "x", UserKey: "u"},
		{SecretID: "x", Key: "k", UserKey: "k"},
		{SecretID: "x", Admin: secret.FromString("AKIA:secret")},
	} {
		if _, err := New(context.Background(), c); errs.KindOf(err) != errs.Invalid {
			t.Errorf("New(%+v) = %v", c, err)
		}
	}
}

// Deliver then roll back: AWSCURRENT is again the version it was (the
// same value, no third version), AWSPREVIOUS the one rekey wrote; a
// second Restore changes nothing.
func TestRestoreMovesAWSCURRENTBack(t *testing.T) {
	srv := awsiamtest.New()
	defer srv.Close()
	const before = `{"region":"eu-west-1","secret_access_key":"old","access_key_id":"AKIAOLD"}`
	srv.CreateSecret("prod/deployer", before)
	tg := target(t, srv, adminOf(srv), "prod/deployer", "secret_access_key", "access_key_id")
	ctx := context.Background()
	prev, err := tg.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Write(ctx, deliver.Value{User: "AKIANEW", Secret: secret.FromString(newSecret)}); err != nil {
		t.Fatal(err)
	}
	back := deliver.Value(prev)
	for i := 0; i < 2; i++ {
		if err := tg.Restore(ctx, back); err != nil {
			t.Fatal(err)
		}
		if v, _ := srv.SecretValue("prod/deployer"); v != before || srv.SecretVersions("prod/deployer") != 2 {
			t.Errorf("restore %d: AWSCURRENT %s in %d versions, want the original in 2", i+1, v, srv.SecretVersions("prod/deployer"))
		}
	}
	if st, err := tg.Current(ctx); err != nil || st.User != "AKIAOLD" || string(st.Secret.Reveal()) != "old" {
		t.Errorf("Current after the rollback: %+v, %v", st, err)
	}
}

// When someone wrote after rekey, AWSPREVIOUS is no longer the version
// before rekey's: Restore writes the old key into the current value,
// keeping the other writer's field.
func TestRestoreAfterAnotherWriteKeepsIt(t *testing.T) {
	srv := awsiamtest.New()
	defer srv.Close()
	srv.CreateSecret("app", `{"password":"old","note":"a"}`)
	tg := target(t, srv, adminOf(srv), "app", "password", "")
	other := target(t, srv, adminOf(srv), "app", "note", "")
	ctx := context.Background()
	if err := tg.Write(ctx, deliver.Value{Secret: secret.FromString(newSecret)}); err != nil {
		t.Fatal(err)
	}
	if err := other.Write(ctx, deliver.Value{Secret: secret.FromString("b")}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Restore(ctx, deliver.Value{Secret: secret.FromString("old")}); err != nil {
		t.Fatal(err)
	}
	raw, _ := srv.SecretValue("app")
	var got map[string]string
	if err := json.Unmarshal([]byte(raw), &got); err != nil || got["password"] != "old" || got["note"] != "b" {
		t.Errorf("after the restore the secret holds %v, want password old and note b", got)
	}
}

// Throttled calls are retried up to Attempts tries; past the bound the
// error is one line naming Secrets Manager's action and the bound.
func TestThrottlingIsRetriedWithABound(t *testing.T) {
	srv := awsiamtest.New()
	defer srv.Close()
	srv.CreateSecret("app", "old")
	const attempts = 3
	tg, err := New(context.Background(), Config{Endpoint: srv.URL, Admin: adminOf(srv), SecretID: "app", Attempts: attempts,
		backoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.Throttle(attempts - 1)
	if _, err := tg.Current(ctx); err != nil {
		t.Fatalf("Current through %d throttled answers: %v", attempts-1, err)
	}
	admin, _ := srv.AdminKey()
	srv.Throttle(100)
	before := srv.Signed(admin)
	_, err = tg.Current(ctx)
	if errs.KindOf(err) != errs.Unreachable || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), "aws-secretsmanager") || !strings.Contains(err.Error(), "secretsmanager:GetSecretValue still throttled after 3 attempts") {
		t.Errorf("Current while throttled: %v (kind %v)", err, errs.KindOf(err))
	}
	if n := srv.Signed(admin) - before; n != attempts {
		t.Errorf("the throttled call was tried %d times, want the bound %d", n, attempts)
	}
	srv.Throttle(0)
}

// When others wrote after rekey and the version now labelled AWSPREVIOUS
// is not a JSON object, it cannot be the one rekey replaced: Restore
// writes the old key into the current value instead of failing.
func TestRestoreOverAPreviousOfAnotherShape(t *testing.T) {
	srv := awsiamtest.New()
	defer srv.Close()
	srv.CreateSecret("app", `{"password":"old"}`)
	tg := target(t, srv, adminOf(srv), "app", "password", "")
	plain := target(t, srv, adminOf(srv), "app", "", "")
	ctx := context.Background()
	for _, w := range []struct {
		t *Target
		v string
	}{{tg, newSecret}, {plain, "maintenance: not json"}, {plain, `{"password":"theirs","note":"b"}`}} {
		if err := w.t.Write(ctx, deliver.Value{Secret: secret.FromString(w.v)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tg.Restore(ctx, deliver.Value{Secret: secret.FromString("old")}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if v, _ := srv.SecretValue("app"); v != `{"note":"b","password":"old"}` {
		t.Errorf("after the restore the secret holds %s", v)
	}
}
