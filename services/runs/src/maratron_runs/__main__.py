"""`python -m maratron_runs`: run the runs service (settings from the environment)."""

from __future__ import annotations

from maratron_service.app import run_service

from maratron_runs.app import build_app
from maratron_runs.settings import RunsSettings


def main() -> None:
    run_service(build_app, RunsSettings)


if __name__ == "__main__":
    main()
