package incident

import (
	"context"

	gh "github.com/google/go-github/v72/github"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/awssm"
	"github.com/rekeyhq/rekey/internal/deliver/file"
	"github.com/rekeyhq/rekey/internal/deliver/ghsecret"
	"github.com/rekeyhq/rekey/internal/deliver/glvariable"
	"github.com/rekeyhq/rekey/internal/deliver/k8ssecret"
	"github.com/rekeyhq/rekey/internal/deliver/tlsfiles"
	"github.com/rekeyhq/rekey/internal/deliver/vaultkv"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
)

// Target opens consumer c's delivery target: the one place that maps an
// inventory delivery type to its implementation, for runs, preflight and
// plans alike.
func (s Systems) Target(c *inventory.Consumer) (deliver.Target, error) {
	if c.Deliver == nil {
		return nil, errs.New("deliver", errs.Unsupported, c.Name, "consumer "+c.Name+" declares no delivery")
	}
	switch c.Deliver.Type {
	case "file":
		return file.FromInventory(s.Inventory, c.Deliver)
	case inventory.DeliverVaultKV:
		return vaultkv.FromInventory(s.Inventory, c.Deliver, s.Getenv)
	case inventory.DeliverGitLabCIVariable:
		return glvariable.FromInventory(s.Inventory, c.Deliver, s.Getenv)
	case inventory.DeliverKubernetesSecret:
		return k8ssecret.FromInventory(s.Inventory, c.Deliver, s.Getenv)
	case inventory.DeliverAWSSecretsManager:
		return awssm.FromInventory(context.Background(), s.Inventory, c.Deliver, s.Getenv)
	case inventory.DeliverGitHubActionsSecret:
		return s.githubSecret(c.Deliver)
	case inventory.DeliverTLSFiles, inventory.DeliverKeyFile, inventory.DeliverTLSSecretManifest:
		return tlsfiles.FromInventory(s.Inventory, c.Deliver)
	}
	return nil, errs.New("deliver", errs.Unsupported, c.Name, "rekey cannot deliver to "+c.Deliver.Type+" targets yet")
}

// githubSecret is an Actions secret written by its github system's
// administrator (a token or a GitHub App), through that system's provider,
// which is opened at the target's first request.
func (s Systems) githubSecret(d *inventory.Delivery) (deliver.Target, error) {
	return ghsecret.New(ghsecret.Config{Repo: d.Repo, Org: d.Org, Name: d.Name, Visibility: d.Visibility,
		Connect: func(ctx context.Context) (*gh.Client, ghsecret.RetryFunc, error) {
			p, err := s.Open(ctx, d.System)
			if err != nil {
				return nil, nil, err
			}
			// The github provider holds nothing to close; its client
			// outlives it.
			a, ok := p.(ghsecret.Admin)
			if !ok {
				p.Close()
				return nil, nil, errs.New("deliver", errs.Invalid, d.System, "system "+d.System+" is not a github system rekey can write Actions secrets with")
			}
			return a.Client(), a.Retry, nil
		}})
}

// checker is a target that can say, changing nothing, whether a delivery
// would succeed (a file: exists, one name, parses, directory writable).
type checker interface {
	Check(ctx context.Context) error
}

// checkDelivery reads t as a delivery will. A target without its own
// check is read: a missing place for the secret is fine (the delivery
// creates it), any other failure is a problem.
func checkDelivery(ctx context.Context, t deliver.Target) error {
	if c, ok := t.(checker); ok {
		return c.Check(ctx)
	}
	if _, err := t.Current(ctx); err != nil && errs.KindOf(err) != errs.NotFound {
		return err
	}
	return nil
}
