package inventory

import (
	"slices"
	"strings"
	"testing"
)

func TestAWSSecretsManagerDelivery(t *testing.T) {
	src := []byte(`version: 1
systems:
  - { name: aws, type: aws-iam, admin: env:AWS_ADMIN, endpoint: "http://127.0.0.1:4566" }
identities:
  - { name: deployer, system: aws }
consumers:
  - name: json
    identity: deployer
    deliver: { type: aws-secretsmanager, secret_id: prod/deployer, key: secret_access_key, user_key: access_key_id }
  - name: plain
    identity: deployer
    deliver: { type: aws-secretsmanager, secret_id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/plain-AbCdEf", system: aws }
`)
	inv, _ := parseOK(t, src, map[string]string{"AWS_ADMIN": `{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"s"}`})
	j, p := *inv.Consumers[0].Deliver, *inv.Consumers[1].Deliver
	j.Pos, p.Pos = Pos{}, Pos{}
	if want := (Delivery{Type: DeliverAWSSecretsManager, System: "aws", SecretID: "prod/deployer", Key: "secret_access_key", UserKey: "access_key_id"}); j != want {
		t.Errorf("json delivery = %+v, want %+v", j, want)
	}
	if p.SecretID != "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/plain-AbCdEf" || p.Key != "" || p.System != "aws" {
		t.Errorf("plain delivery = %+v", p)
	}
}

// Each mistake is one error at its line and column.
func TestAWSSecretsManagerDeliveryErrors(t *testing.T) {
	src := []byte(`version: 1
systems:
  - { name: db, type: postgres, admin: env:DB }
identities:
  - { name: svc, system: db }
consumers:
  - name: a
    identity: svc
    deliver: { type: aws-secretsmanager, secret_id: "bad id!", user_key: id }
  - name: b
    identity: svc
    deliver: { type: aws-secretsmanager, secret_id: x, key: k, user_key: k, system: db, path: p }
  - name: c
    identity: svc
    deliver: { type: aws-secretsmanager }
`)
	_, rep, err := Parse("inv.yml", src, opts(t, map[string]string{"DB": "postgres://a@b/c"}))
	if err != nil {
		t.Fatal(err)
	}
	got := errorStrings(rep)
	want := []string{
		`inv.yml:9:14: consumer "a": deliver: a aws-secretsmanager is written by a aws-iam system's administrator, and the inventory has no system of type aws-iam`,
		`inv.yml:9:53: consumer "a": deliver: secret_id "bad id!": want a secret's name (letters, digits and /_+=.@-) or its ARN`,
		`inv.yml:9:74: consumer "a": deliver: user_key needs key: without key the secret's value is the secret alone`,
		`inv.yml:12:74: consumer "b": deliver: user_key is the same as key`,
		`inv.yml:12:85: consumer "b": deliver: system "db" is not a aws-iam system of this inventory (aws-iam systems: none)`,
		`inv.yml:12:89: consumer "b": deliver: unknown key "path" (known: type, secret_id, key, user_key, system)`,
		`inv.yml:15:14: consumer "c": deliver: missing secret_id`,
		`inv.yml:15:14: consumer "c": deliver: a aws-secretsmanager is written by a aws-iam system's administrator, and the inventory has no system of type aws-iam`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
