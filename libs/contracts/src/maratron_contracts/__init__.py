"""Maratron's message contracts: the one place where every command, event, reply and read model
is defined, with its NATS subject and schema version.

Modules:
  envelope  - Actor, CommandEnvelope, Reply, EventEnvelope, EventMetadata
  errors    - ErrorCode and the typed MaratronError hierarchy carried in replies
  subjects  - subject and stream naming (namespace-aware so tests can isolate themselves)
  messages  - the Command / Event base classes
  registry  - the registry of event types, versions and upcasters; JSON Schema export
  runs, context, insights, access - the messages of each bounded context
"""
