package review

import (
	"strings"

	"github.com/rekeyhq/rekey/internal/logs"
)

// Categories of sensitive actions, as findings name them.
const (
	catCredential = "credential creation"
	catPrivilege  = "privilege change"
	catAssume     = "role assumption"
	catChain      = "role chaining"
	catSecret     = "secret read"
	catRecon      = "reconnaissance"
	catTamper     = "logging tampering"
	catExfil      = "data exfiltration"
	catExec       = "code execution"
	catPersist    = "persistence"
)

// sensitivity is how much an action matters when the credential is in
// the wrong hands.
type sensitivity struct {
	category string
	severity Severity
}

// cloudTrailSensitive is the curated CloudTrail list, by IAM-style action
// ("iam:CreateAccessKey"). Reconnaissance (List*, Describe*, Get* of
// account metadata) is matched by pattern in classify.
var cloudTrailSensitive = cloudTrailList()

func cloudTrailList() map[string]sensitivity {
	m := map[string]sensitivity{}
	add := func(m map[string]sensitivity, s sensitivity, actions ...string) {
		for _, a := range actions {
			m[a] = s
		}
	}
	add(m, sensitivity{catCredential, High},
		"iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:CreateUser",
		"iam:CreateServiceSpecificCredential", "iam:UploadSSHPublicKey", "iam:UploadSigningCertificate",
		"iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ResetServiceSpecificCredential",
		"sts:GetFederationToken", "sts:GetSessionToken", "iam:CreateSAMLProvider", "iam:CreateOpenIDConnectProvider",
		"iam:UpdateAccessKey")
	add(m, sensitivity{catPrivilege, High},
		"iam:AttachUserPolicy", "iam:AttachRolePolicy", "iam:AttachGroupPolicy", "iam:PutUserPolicy",
		"iam:PutRolePolicy", "iam:PutGroupPolicy", "iam:CreatePolicy", "iam:CreatePolicyVersion",
		"iam:SetDefaultPolicyVersion", "iam:AddUserToGroup", "iam:UpdateAssumeRolePolicy", "iam:CreateRole",
		"iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
		"iam:AddRoleToInstanceProfile", "s3:PutBucketPolicy", "s3:PutBucketAcl", "s3:PutObjectAcl",
		"s3:DeleteBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "kms:PutKeyPolicy", "kms:CreateGrant",
		"lambda:AddPermission", "ec2:AuthorizeSecurityGroupIngress", "organizations:LeaveOrganization")
	add(m, sensitivity{catAssume, Medium},
		"sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")
	add(m, sensitivity{catSecret, High},
		"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue", "ssm:GetParameter",
		"ssm:GetParameters", "ssm:GetParametersByPath", "kms:Decrypt", "ssm:StartSession",
		"ec2:GetPasswordData", "ecr:GetAuthorizationToken", "codecommit:GetRepository")
	add(m, sensitivity{catTamper, Critical},
		"cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "cloudtrail:UpdateTrail", "cloudtrail:PutEventSelectors",
		"cloudtrail:PutInsightSelectors", "cloudtrail:DeleteEventDataStore", "ec2:DeleteFlowLogs",
		"logs:DeleteLogGroup", "logs:DeleteLogStream", "logs:PutRetentionPolicy", "logs:DeleteSubscriptionFilter",
		"config:StopConfigurationRecorder", "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel",
		"guardduty:DeleteDetector", "guardduty:UpdateDetector", "guardduty:DisassociateFromMasterAccount",
		"guardduty:CreateFilter", "securityhub:DisableSecurityHub", "s3:PutBucketLogging", "s3:DeleteBucketLogging",
		"access-analyzer:DeleteAnalyzer", "macie2:DisableMacie")
	add(m, sensitivity{catExfil, High},
		"ec2:ModifySnapshotAttribute", "ec2:ModifyImageAttribute", "rds:ModifyDBSnapshotAttribute",
		"ec2:CreateSnapshot", "rds:CreateDBSnapshot", "s3:PutBucketReplication", "ec2:SharedSnapshotCopyInitiated")
	add(m, sensitivity{catPersist, High},
		"ec2:CreateKeyPair", "ec2:ImportKeyPair", "lambda:CreateFunction20150331", "lambda:UpdateFunctionCode20150331v2",
		"ec2:RunInstances", "ec2:ModifyInstanceAttribute", "iam:CreateInstanceProfile", "events:PutRule",
		"ssm:SendCommand", "ec2-instance-connect:SendSSHPublicKey")
	return m
}

// classify says whether an event is a sensitive action, and under which
// label findings group it ("iam:CreateAccessKey", "COPY … PROGRAM").
// It knows CloudTrail by action name, SQL (PostgreSQL, MySQL/MariaDB) by
// statement, Kubernetes audit, Vault audit and GitHub audit by the
// resource, path or action their events name.
func classify(e *logs.Event) (label string, s sensitivity, ok bool) {
	a := e.Action
	if svc, name, found := strings.Cut(a, ":"); found && !strings.ContainsAny(a, " /") {
		if s, ok := cloudTrailSensitive[a]; ok {
			if s.category == catAssume && strings.Contains(e.Identity, ":assumed-role/") {
				return a, sensitivity{catChain, High}, true
			}
			return a, s, true
		}
		if recon(svc, name) {
			return a, sensitivity{catRecon, Low}, true
		}
		return "", sensitivity{}, false
	}
	if label, s, ok := sqlSensitive(e); ok {
		return label, s, true
	}
	low := strings.ToLower(a)
	for _, k := range []string{"verb", "resource", "subresource", "path", "request_path"} {
		if v := e.Detail[k]; v != "" {
			low += " " + strings.ToLower(v)
		}
	}
	return textSensitive(a, low)
}

// recon reports CloudTrail calls that map an account: who am I, what
// exists, what may I do.
func recon(svc, name string) bool {
	switch {
	case svc == "sts" && name == "GetCallerIdentity",
		svc == "iam" && (strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Get")),
		svc == "organizations" && (strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Describe")),
		svc == "s3" && name == "ListBuckets",
		svc == "secretsmanager" && name == "ListSecrets",
		svc == "ssm" && name == "DescribeParameters",
		strings.HasPrefix(name, "Describe"), strings.HasPrefix(name, "List"):
		return true
	}
	return false
}

// sqlSensitive reads a statement's command (the event's action, or the
// statement in its Detail).
func sqlSensitive(e *logs.Event) (string, sensitivity, bool) {
	text := e.Detail["statement"]
	if text == "" {
		text = e.Detail["query"]
	}
	if text == "" {
		// A statement's command tag ("CREATE ROLE") is upper case; other
		// formats' actions are not.
		if strings.ToUpper(e.Action) != e.Action {
			return "", sensitivity{}, false
		}
		text = e.Action
	}
	up := strings.ToUpper(strings.Join(strings.Fields(text), " "))
	head := up
	switch {
	case startsAny(head, "CREATE ROLE", "CREATE USER", "CREATE GROUP", "SET PASSWORD", "RENAME USER"):
		return firstWords(head, 2), sensitivity{catCredential, High}, true
	case startsAny(head, "ALTER ROLE", "ALTER USER", "ALTER GROUP"):
		return firstWords(head, 2), sensitivity{catPrivilege, High}, true
	case startsAny(head, "GRANT"):
		return "GRANT", sensitivity{catPrivilege, High}, true
	case startsAny(head, "COPY") && strings.Contains(up, " PROGRAM "):
		return "COPY … PROGRAM", sensitivity{catExec, Critical}, true
	case startsAny(head, "INSTALL PLUGIN", "INSTALL SONAME"):
		return firstWords(head, 2), sensitivity{catExec, Critical}, true
	case startsAny(head, "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", "CREATE PROCEDURE", "CREATE OR REPLACE PROCEDURE") &&
		(strings.Contains(up, "LANGUAGE C ") || strings.HasSuffix(up, "LANGUAGE C") || strings.Contains(up, "LANGUAGE PLPYTHON") || strings.Contains(up, "LANGUAGE PLPERLU") ||
			strings.Contains(up, "LANGUAGE 'C'")):
		return "CREATE FUNCTION (untrusted language)", sensitivity{catExec, High}, true
	case startsAny(head, "ALTER SYSTEM"):
		return "ALTER SYSTEM", sensitivity{catTamper, High}, true
	case startsAny(head, "SET GLOBAL") && (strings.Contains(up, "GENERAL_LOG") || strings.Contains(up, "SERVER_AUDIT")):
		return "SET GLOBAL (logging)", sensitivity{catTamper, Critical}, true
	case strings.Contains(up, " INTO OUTFILE ") || strings.Contains(up, " INTO DUMPFILE "):
		return "SELECT … INTO OUTFILE", sensitivity{catExfil, High}, true
	case startsAny(head, "COPY") && strings.Contains(up, " TO '"):
		return "COPY … TO file", sensitivity{catExfil, High}, true
	case startsAny(head, "CREATE EXTENSION"):
		return "CREATE EXTENSION", sensitivity{catExec, Medium}, true
	case startsAny(head, "LOAD DATA"):
		return "LOAD DATA", sensitivity{catExfil, Medium}, true
	}
	return "", sensitivity{}, false
}

func startsAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+" ") || strings.HasPrefix(s, p) && strings.HasSuffix(p, " ") {
			return true
		}
	}
	return false
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

// textSensitive covers Kubernetes (verb and resource), Vault (request
// path) and GitHub (category.operation) actions; low is the lowercased
// action with the Detail fields that qualify it.
func textSensitive(action, low string) (string, sensitivity, bool) {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(low, s) {
				return true
			}
		}
		return false
	}
	write := has("create", "update", "patch", "bind", "escalate")
	switch {
	// Kubernetes
	case has("secrets") && has("get", "list", "watch"):
		return action, sensitivity{catSecret, High}, true
	case has("pods/exec", "pods/attach", "pods/portforward", "nodes/proxy"):
		return action, sensitivity{catExec, High}, true
	case has("serviceaccounts/token", "tokenrequest"):
		return action, sensitivity{catCredential, High}, true
	case has("rolebindings", "clusterroles", "roles") && write:
		return action, sensitivity{catPrivilege, High}, true
	case has("certificatesigningrequests") && (write || has("approval")):
		return action, sensitivity{catCredential, High}, true
	// Vault: "OPERATION path"
	case has("auth/token/create"):
		return action, sensitivity{catCredential, High}, true
	case strings.Contains(low, "sys/") && !write && !has("delete", "put", "post"):
		return action, sensitivity{catRecon, Low}, true
	case has("sys/audit"):
		return action, sensitivity{catTamper, Critical}, true
	case has("sys/policy", "sys/policies", "sys/auth", "sys/mounts"):
		return action, sensitivity{catPrivilege, High}, true
	case has(" sys/") || strings.HasPrefix(low, "sys/"):
		return action, sensitivity{catPrivilege, Medium}, true
	// GitHub
	case has("personal_access_token.", "oauth_access.create", "oauth_authorization.create", "public_key.create",
		"deploy_key.create", "integration_installation.create", "ssh_certificate_authority.create", "oauth_application.reset_secret"):
		return action, sensitivity{catCredential, High}, true
	case has("org.add_member", "org.update_member", "team.add_member", "repo.add_member", "business.add_admin",
		"protected_branch.destroy", "protected_branch.policy_override", "org.add_billing_manager", "repo.access"):
		return action, sensitivity{catPrivilege, High}, true
	case has("audit_log_streaming.destroy", "audit_log_streaming.update", "org.disable_two_factor_requirement"):
		return action, sensitivity{catTamper, Critical}, true
	case has("repo.download_zip", "git.clone"):
		return action, sensitivity{catExfil, Medium}, true
	case has("hook.create", "hook.config_changed"):
		return action, sensitivity{catPersist, Medium}, true
	}
	return "", sensitivity{}, false
}
