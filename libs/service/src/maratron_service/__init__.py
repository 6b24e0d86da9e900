"""Service runtime shared by every Maratron service.

Modules (import what you need; nothing heavy is imported here):
  settings    - `Settings` (env / .env; NATS_URL, DATABASE_URL, REDIS_URL, MARATRON_*)
  logging     - JSON-lines logs with correlation / command ids from contextvars
  commands    - `CommandBus`, `Decision`, `CommandContext`: the decider command loop
  client      - `CommandClient`: request-reply with safe retries and a deadline
  app         - `ServiceApp`, `run_service`: connections, projector, relay, probes, shutdown
  metrics     - Prometheus metrics of the runtime
  validation  - readable validation errors
  testing     - `running_app`, `settings_for`: run a ServiceApp inside a test's event loop
"""
