"""The server's side of authentication: route policies (`policy`), the gate in front of the
app (`gate`), its cache and rate limiter (`limits`) and the account routes (`routes`).
Users, tokens and the audit log themselves are in `cairn.auth`."""
