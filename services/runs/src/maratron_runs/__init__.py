"""The runs service: athletes' profiles, runs and shoes (`python -m maratron_runs`).

domain (pure deciders), handlers (commands), projections (Redis read models), queries (the
readers the gateway calls), readmodel (key layout), views (event -> read model), authz, app.
"""
