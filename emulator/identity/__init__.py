"""The emulated Microsoft identity platform: OIDC discovery, tokens, managed identity."""
