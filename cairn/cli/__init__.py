"""The `cairn` command: a thin shell over `CairnClient` (one module per command group).

Nothing imports this package; it parses arguments, calls the client and turns
`CairnException`s into clean error messages.
"""
