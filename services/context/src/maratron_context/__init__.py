"""Context service: conversation sessions, preferences, memory and fuzzy memory search.

Modules: domain (pure deciders), handlers (command table), projections (Redis read models),
views (pure read-model transitions), search (the fuzzy index), queries (readers the gateway
calls), sweeper (idle expiry), settings, app (`build_app`), __main__.
"""
