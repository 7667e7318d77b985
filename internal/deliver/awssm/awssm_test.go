package awssm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

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
