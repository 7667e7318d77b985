// Package all lists every credential system rekey has a provider for. The
// list is explicit (no init side effects): a test builds its own registry
// with only what it needs.
package all

import (
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/awsiam"
	"github.com/rekeyhq/rekey/internal/provider/certs"
	"github.com/rekeyhq/rekey/internal/provider/github"
	"github.com/rekeyhq/rekey/internal/provider/gitlab"
	"github.com/rekeyhq/rekey/internal/provider/kubernetes"
	"github.com/rekeyhq/rekey/internal/provider/mysql"
	"github.com/rekeyhq/rekey/internal/provider/postgres"
	"github.com/rekeyhq/rekey/internal/provider/redis"
	"github.com/rekeyhq/rekey/internal/provider/sshtrust"
	"github.com/rekeyhq/rekey/internal/provider/vault"
)

// Registry returns a registry of every provider.
func Registry() *provider.Registry {
	r := provider.NewRegistry()
	r.Register(certs.Type, certs.New)
	r.Register("aws-iam", awsiam.New)
	r.Register(github.Type, github.New)
	r.Register(gitlab.Type, gitlab.New)
	r.Register(kubernetes.Type, kubernetes.New)
	r.Register("mysql", mysql.New)
	r.Register("postgres", postgres.New)
	r.Register("redis", redis.New)
	r.Register(sshtrust.Type, sshtrust.New)
	r.Register(vault.Type, vault.New)
	return r
}
