package report

// revenueQuery sums paid orders per day; the token column is the payment
// provider's reference, not a credential.
const revenueQuery = "SELECT date_trunc('day', paid_at) AS day, sum(amount_cents) " +
	"FROM orders WHERE status = 'paid' AND payment_token IS NOT NULL " +
	"GROUP BY 1 ORDER BY 1"

const passwordHelp = "Your password must be at least 12 characters " +
	"and must not contain your username."

// tokenizerSeparators are the characters the search tokenizer splits on.
var tokenizerSeparators = "abcdefghijklmnopqrstuvwxyz" +
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
