package all

import "testing"

func TestRegistryListsEveryProvider(t *testing.T) {
	r := Registry()
	for _, typ := range []string{"aws-iam", "github", "gitlab", "kubernetes", "mysql", "postgres", "redis", "ssh", "vault", "x509"} {
		if !r.Has(typ) {
			t.Errorf("no provider for %s", typ)
		}
	}
}
