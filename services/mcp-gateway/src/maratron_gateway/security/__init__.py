"""The gateway's security layer (issue 6): who may call what, how often, and what is refused.

* `settings`   - `SecuritySettings`: rate limits, host/origin allow-lists, size limits.
* `verifier`   - one bearer-token chain: API keys (`mrt_...`, maratron_access) then JWTs.
* `policy`     - tool/resource -> required scope and rate-limit tier (fails closed).
* `grants`     - coach grants: which other athlete the current call may act on.
* `denials`    - `Denied` errors, classification of refusals, fire-and-forget audit.
* `middleware` - the MCP middleware: scope, grant, rate-limit checks; output size limit.
* `http`       - ASGI layer: request body limit (413), audit of HTTP-level refusals, the
                 `http_app` options (Host/Origin guard against DNS rebinding).

Kept import-light on purpose: `maratron_gateway.auth` imports `security.grants`.
"""
