// Package rules is rekey's rule set: one detect.Rule per documented
// credential format, written from the providers' own descriptions of their
// tokens. Every rule carries examples that must match and near-misses that
// must not, and rules_test.go runs them all.
//
// Conventions the rules follow:
//   - Keywords are literals that occur inside every match and are rare in
//     ordinary source code (a token prefix, a provider name), so the keyword
//     prefilter leaves the regular expressions little to do. The one
//     exception is .pypirc, whose keywords mark the file.
//   - A value with a fixed prefix or a checksum gets a specific rule; a value
//     recognisable only by the name it is assigned to, the URL it sits in or
//     the command it is passed to is Generic: it gets the engine's
//     placeholder filter, an entropy floor and genericValue.
//   - Every rule has a validator or an entropy floor, so "ghp_xxxx…" and
//     other stand-ins are not reported.
//   - Two rules do not report the same bytes: a generic match inside a
//     specific one is dropped by the engine, generic rules leave values with
//     a known prefix to their own rule, and overlapping formats (an .npmrc
//     _authToken holding an npm_ token) are written not to overlap.
//   - Example values are generated from seeds (fake.go), never copied: no
//     literal in this package is anyone's credential.
//
// Files are grouped by provider family: aws, github (GitHub, GitLab,
// Bitbucket, Atlassian, CI), cloud (GCP, Azure, other clouds, HashiCorp),
// ai, slack, saas, payments, registry (package registries and their config
// files), keys (PEM, PGP, PuTTY, age, JWT, kubeconfig), dsn (connection
// URIs, JDBC, ADO.NET, URL userinfo, .netrc, HTTP auth headers), config
// (command lines, name/value lists) and generic (key = value in every
// config syntax, XML). The *2.go files add more providers of a family;
// most of their prefix-less keys are keyedRule rules, found by the
// provider's name in the key they are assigned to.
package rules

import (
	"slices"
	"sync"

	"github.com/rekeyhq/rekey/internal/detect"
)

// Detector is the detector of every rule, built once per process: building
// it compiles every rule (tens of milliseconds and ~20 MB of garbage with
// 500+ rules), and a Detector is safe for concurrent use, so a server that
// opens incidents, parses inventories and traces sources shares one.
// Callers must not change its rules; one that wants adjusted rules builds
// its own from All.
var Detector = sync.OnceValues(func() (*detect.Detector, error) { return detect.New(All()) })

// All returns every rule, grouped by provider family. Each call returns new
// Rule values, so a caller may adjust them without affecting others.
func All() []*detect.Rule {
	return slices.Concat(
		awsRules(),
		githubRules(),
		gitlabRules(),
		vcsRules(),
		ciRules(),
		moreCIRules(),
		evenMoreCIRules(),
		yetMoreCIRules(),
		gcpRules(),
		azureRules(),
		cloudRules(),
		hashicorpRules(),
		moreCloudRules(),
		moreAzureRules(),
		moreCloudRules2(),
		evenMoreCloudRules(),
		yetMoreCloudRules(),
		clusterAndBackupRules(),
		moreProviderTokenRules(),
		keyedClientSecretRules(),
		platformRules(),
		morePlatformRules(),
		networkAndDataRules(),
		rekeyRules(),
		aiRules(),
		moreAIRules(),
		slackRules(),
		saasRules(),
		paymentRules(),
		registryRules(),
		moreRegistryRules(),
		evenMoreRegistryRules(),
		observabilityRules(),
		identityRules(),
		moreIdentityRules(),
		headerRules(),
		messagingRules(),
		keyRules(),
		moreKeyRules(),
		dsnRules(),
		moreDSNRules(),
		evenMoreDSNRules(),
		serverAccountRules(),
		toolAndServiceRules(),
		configRules(),
		genericRules(),
		// After the generic rules: a "password=…" both match is theirs.
		proseRules(),
		ai2Rules(),
		saas2Rules(),
		payments2Rules(),
		observability2Rules(),
		messaging2Rules(),
	)
}

// sep sits between a key and its value in config files and code: the key's
// closing quote, "=", ":" or "=>", and the value's opening quote. Go's ":="
// is left out on purpose: it assigns expressions far more often than
// literals.
const sep = `["']?[ \t]*(?:=|:|=>)[ \t]*["'` + "`" + `]?`
