package rules

import "github.com/rekeyhq/rekey/internal/detect"

func awsRules() []*detect.Rule {
	keyID := fakeAWSKeyID("AKIA", 123456789012, "aws-doc-1")
	secret := fake("aws-secret-1", alnum+"/+", 40)
	return []*detect.Rule{
		{
			ID:          "aws-access-key-id",
			Source:      "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html",
			Provider:    "aws",
			Description: "AWS access key id (AKIA long-term, ASIA temporary, ABIA/ACCA service credentials); the account id is decoded from ids of the current generation",
			Keywords:    []string{"akia", "asia", "abia", "acca", "a3t"},
			Regex:       re(`\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b`),
			MinEntropy:  2.5,
			Severity:    detect.High,
			Identity:    awsKeyIdentity,
			Examples: []string{
				"[default]\naws_access_key_id = " + keyID,
				`{"Credentials": {"AccessKeyId": "` + fakeAWSKeyID("ASIA", 210987654321, "aws-sts") + `", "Expiration": "2025-01-01T00:00:00Z"}}`,
				"export AWS_ACCESS_KEY_ID=" + fakeAWSKeyID("ABIA", 555566667777, "aws-abia"),
				"      AccessKeyId: " + fakeAWSKeyID("ACCA", 730335385811, "aws-acca"),
			},
			NoMatch: []string{
				"aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
				"aws_access_key_id = AKIA1234567890ABCDEF", // 0, 1, 8 and 9 are not base32
				"Zone: Asia/Kolkata, AsiaPacificEast2",
				"id := \"akia" + fake("aws-lower", lower, 16) + "\"",
			},
		},
		{
			ID:           "aws-secret-access-key",
			Source:       "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
			Provider:     "aws",
			Description:  "AWS secret access key assigned to a key that names it; paired with the access key id next to it",
			Keywords:     []string{"aws_secret", "aws-secret", "awssecret", "aws.secret", "secret_access", "secretaccess", "secret-access", "secret.access"},
			Regex:        re(`(?i:(?:aws[_.-]?secret(?:[_.-]?access)?[_.-]?key|secret[_.-]?access[_.-]?key)(?:[_.-]?id)?)` + sep + `(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
			Validate:     mixedCase,
			MinEntropy:   4.0,
			Severity:     detect.Critical,
			PairWith:     "aws-access-key-id",
			PairDistance: 1000,
			Examples: []string{
				"[default]\naws_access_key_id = " + keyID + "\naws_secret_access_key = " + secret + "\n",
				`{"AccessKeyId": "` + fakeAWSKeyID("ASIA", 210987654321, "aws-sts") + `", "SecretAccessKey": "` + fake("aws-secret-2", alnum+"/+", 40) + `"}`,
				"AWS_SECRET_ACCESS_KEY=" + fake("aws-secret-3", alnum+"/+", 40),
				"  secretAccessKey: '" + fake("aws-secret-4", alnum+"/+", 40) + "',",
			},
			NoMatch: []string{
				"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
				"aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
				"AWS_SECRET_ACCESS_KEY=" + fake("aws-hex", hexLower, 40), // a digest, not base64
				"Set AWS_SECRET_ACCESS_KEY in the job's environment before running terraform.",
			},
		},
		{
			ID:          "aws-session-token",
			Provider:    "aws",
			Description: "AWS STS session token (temporary credential, valid with its ASIA key id and secret until it expires)",
			Keywords:    []string{"session_token", "sessiontoken", "session-token", "security_token", "securitytoken"},
			Regex:       re(`(?i:aws[_.-]?(?:session|security)[_.-]?token|sessiontoken)` + sep + `(?P<secret>[A-Za-z0-9/+]{100,}={0,2})`),
			MinEntropy:  4.5,
			Severity:    detect.High,
			Examples: []string{
				"aws_session_token = IQoJb3JpZ2luX2VjE" + fake("aws-sess-1", b64, 300),
				`"SessionToken": "FwoGZXIvYXdzE` + fake("aws-sess-2", b64, 280) + `=="`,
			},
			NoMatch: []string{
				"aws_session_token = ${AWS_SESSION_TOKEN}",
				"      AWS_SESSION_TOKEN: ${{ secrets.AWS_SESSION_TOKEN }}",
				`{"SessionToken": null, "Expiration": null}`,
			},
		},
		{
			ID:          "aws-mws-auth-token",
			Provider:    "aws",
			Description: "Amazon Marketplace Web Service auth token",
			Keywords:    []string{"amzn.mws."},
			Regex:       re(`(?P<secret>amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`),
			MinEntropy:  3.0,
			Severity:    detect.High,
			Examples:    []string{"MWS_AUTH_TOKEN=amzn.mws." + uuidLike("mws")},
			NoMatch:     []string{"see amzn.mws.<token> in the seller docs"},
		},
	}
}

// uuidLike returns a deterministic lower-case UUID-shaped string.
func uuidLike(seed string) string {
	h := fake(seed, hexLower, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}
