import pytest

from ledger.plaid import exchange


def test_exchange_returns_an_access_token(plaid_sandbox):
    # Link's public token lives 30 minutes: only its shape matters here.
    public = "public-sandbox-e50e86c2-c5f2-4ca9-9353-10f88053fc3f"
    link = "link-sandbox-cdceab11-b9d4-49fc-88fb-f54a2989d5e5"
    token = exchange(public, link=link)
    assert token.startswith("access-sandbox-")
