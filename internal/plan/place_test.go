package plan

import (
	"testing"

	"github.com/rekeyhq/rekey/internal/inventory"
)

// A kubernetes-secret delivery is summarised by its Secret, key and restart.
func TestDeliveryPlaceKubernetesSecret(t *testing.T) {
	where, how := deliveryPlace(&inventory.Delivery{Type: inventory.DeliverKubernetesSecret, Namespace: "shop", Name: "orders-db", Key: "password", Restart: "deployment/web"})
	if where != "shop/orders-db" || how != "key password by resourceVersion, then rollout restart deployment/web" {
		t.Errorf("deliveryPlace = %q, %q", where, how)
	}
	if where, _ := deliveryPlace(&inventory.Delivery{Type: inventory.DeliverKubernetesSecret, Name: "orders-db", Key: "password"}); where != "orders-db" {
		t.Errorf("without a namespace: %q", where)
	}
}

func TestDeliveryPlaceAWSSecretsManager(t *testing.T) {
	where, how := deliveryPlace(&inventory.Delivery{Type: inventory.DeliverAWSSecretsManager, SecretID: "prod/app", Key: "secret"})
	if where != "secret prod/app" || how != "key secret of its JSON value, a new version (AWSCURRENT)" {
		t.Errorf("deliveryPlace = %q, %q", where, how)
	}
	if _, how := deliveryPlace(&inventory.Delivery{Type: inventory.DeliverAWSSecretsManager, SecretID: "prod/app"}); how != "a new version (AWSCURRENT)" {
		t.Errorf("plain: %q", how)
	}
}
