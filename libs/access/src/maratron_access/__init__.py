"""Access control shared by the gateway and the operator CLI.

* `apikeys` - key format, generation and hashing (pure).
* `projections` - the access read models in Redis (keys by id, grants both ways, denials).
* `control` - `AccessControl`: issue/revoke/verify API keys, grant/revoke/check coach access,
  record and list denied calls. Writes go to the event store, then are projected inline.
"""
