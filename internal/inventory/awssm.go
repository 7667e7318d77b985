package inventory

import "regexp"

// DeliverAWSSecretsManager is the delivery type writing a new version of
// an AWS Secrets Manager secret, through an aws-iam system.
const DeliverAWSSecretsManager = "aws-secretsmanager"

var (
	awssmDeliverKeys = []string{"type", "secret_id", "key", "user_key", "system"}
	// awssmSecretID is a secret's name (ASCII letters, digits and
	// /_+=.@-, at most 512) or its ARN.
	awssmSecretID = regexp.MustCompile(`^(?:[A-Za-z0-9/_+=.@-]{1,512}|arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512})$`)
)

// awssmDelivery reads {type: aws-secretsmanager, secret_id, key?,
// user_key?, system?}. Without key the secret's value is the secret
// itself; with it, a field of the value's JSON object. system names the
// aws-iam system whose administrator writes it (its endpoint: and
// region: apply); without it the inventory's only aws-iam system does.
func (p *parser) awssmDelivery(o *obj, d *Delivery, what string, inv *Inventory) {
	o.only(awssmDeliverKeys...)
	if d.SecretID = o.str("secret_id", true); d.SecretID != "" && !awssmSecretID.MatchString(d.SecretID) {
		p.errorf(o.at("secret_id"), "%s: secret_id %s: want a secret's name (letters, digits and /_+=.@-) or its ARN", what, quote(d.SecretID))
	}
	d.Key = o.str("key", false)
	d.UserKey = o.str("user_key", false)
	switch {
	case d.UserKey != "" && d.Key == "":
		p.errorf(o.at("user_key"), "%s: user_key needs key: without key the secret's value is the secret alone", what)
	case d.Key != "" && d.Key == d.UserKey:
		p.errorf(o.at("user_key"), "%s: user_key is the same as key", what)
	}
	d.System = p.deliverySystem(o, what, inv, TypeAWSIAM, DeliverAWSSecretsManager)
}
