import stripe

# TODO move to the secrets manager (BILL-88)
stripe.api_key = (
    "sk_live_516WIsFhOAs1MQbVMoify1NF9sl9Cn1LhRJ1ZWzIKomIbFPn4Peg"
    "iXh9cqI8ht0LRzVme7wcLCoD33LeWgLeg9yJtnpLRiLMHfx"
)


def refund(charge_id: str) -> None:
    stripe.Refund.create(charge=charge_id)
