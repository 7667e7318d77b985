package gitlab

import "github.com/rekeyhq/rekey/internal/provider"

// scopePrivilege grades a personal access token scope (docs: "Personal
// access token scopes"). sudo and admin_mode act as any user or as the
// administrator; api is full read/write API access, which can create
// project, group and deploy tokens; create_runner registers runners that
// receive CI jobs with their variables; write_repository pushes code that
// CI runs with the project's secrets.
func scopePrivilege(scope string) provider.Privilege {
	pr := provider.Privilege{Name: scope, Risk: provider.RiskLow}
	switch scope {
	case "sudo", "admin_mode":
		pr.Risk, pr.CreatesCredentials = provider.RiskCritical, true
	case "api", "create_runner":
		pr.Risk, pr.CreatesCredentials = provider.RiskHigh, true
	case "write_repository", "manage_runner", "k8s_proxy":
		pr.Risk = provider.RiskHigh
	case "write_registry", "read_repository", "read_registry", "write_virtual_registry":
		pr.Risk = provider.RiskMedium
	}
	return pr
}
