package incident

import (
	"context"
	"fmt"
	"testing"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/provider/awsiam/awsiamtest"
	"github.com/rekeyhq/rekey/internal/secret"
)

// TestTargetDeliversToAWSSecretsManager: a consumer reading its AWS key
// from Secrets Manager gets it there (key id in user_key) through the
// aws-iam system's endpoint and administrator; preflight refuses a secret
// that does not exist, since the delivery does not create one.
func TestTargetDeliversToAWSSecretsManager(t *testing.T) {
	srv := awsiamtest.New()
	t.Cleanup(srv.Close)
	srv.CreateSecret("prod/worker", `{"other":"x"}`)
	src := []byte("version: 1\nsystems:\n  - { name: aws, type: aws-iam, admin: env:AWS_ADMIN, endpoint: \"" + srv.URL + "\" }\n" +
		"identities:\n  - { name: worker, system: aws }\n" +
		"consumers:\n  - name: worker\n    identity: worker\n    deliver: { type: aws-secretsmanager, secret_id: prod/worker, key: secret, user_key: key_id }\n" +
		"  - name: gone\n    identity: worker\n    deliver: { type: aws-secretsmanager, secret_id: prod/gone }\n")
	id, sk := srv.AdminKey()
	getenv := func(k string) string {
		return map[string]string{"AWS_ADMIN": fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q}`, id, sk)}[k]
	}
	inv, rep, err := inventory.Parse("inv.yml", src, inventory.Options{Getenv: getenv})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v", err, rep.Errors)
	}
	s := Systems{Inventory: inv, Getenv: getenv}
	ctx := context.Background()
	tg, err := s.Target(inv.ConsumerByName("worker"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDelivery(ctx, tg); err != nil {
		t.Errorf("preflight: %v", err)
	}
	v := deliver.Value{User: "AKIAEXAMPLENEWKEY000", Secret: secret.FromString("new/Secret+Access+Key0000000000000000000")}
	if err := tg.Write(ctx, v); err != nil {
		t.Fatal(err)
	}
	if ok, err := deliver.Delivered(ctx, tg, v); err != nil || !ok {
		t.Errorf("Delivered = %v, %v", ok, err)
	}
	gone, err := s.Target(inv.ConsumerByName("gone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDelivery(ctx, gone); errs.KindOf(err) != errs.NotFound {
		t.Errorf("preflight of a missing secret: %v", err)
	}
}
