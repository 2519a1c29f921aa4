"""The emulated Entra ID tenant: identity platform and Microsoft Graph over HTTPS on loopback."""
