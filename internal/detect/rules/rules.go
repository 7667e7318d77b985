// Package rules is rekey's rule set: one detect.Rule per documented
// credential format, written from the providers' own descriptions of their
// tokens. Every rule carries examples that must match and near-misses that
// must not, and a test runs them all.
//
// Conventions the rules follow:
//   - Keywords are literals that occur inside every match and are rare in
//     ordinary source code (a token prefix, a provider name), so the keyword
//     prefilter leaves the regular expressions little to do.
//   - A value with a fixed prefix or a checksum gets a specific rule; a value
//     that is only recognisable by the name it is assigned to is Generic and
//     gets the engine's placeholder filter plus an entropy floor.
//   - Two rules never report the same bytes: a specific rule's match that
//     would also be a generic one is dropped by the engine, and rules whose
//     formats can overlap are written so that they do not.
package rules

import (
	"slices"

	"github.com/rekeyhq/rekey/internal/detect"
)

// All returns every rule, grouped by provider family. Each call returns new
// Rule values, so a caller may adjust them without affecting others.
func All() []*detect.Rule {
	return slices.Concat(
		awsRules(),
		githubRules(),
		gitlabRules(),
		vcsRules(),
		gcpRules(),
		azureRules(),
		cloudRules(),
		hashicorpRules(),
		aiRules(),
		slackRules(),
		saasRules(),
		paymentRules(),
		registryRules(),
		keyRules(),
		dsnRules(),
		genericRules(),
	)
}
