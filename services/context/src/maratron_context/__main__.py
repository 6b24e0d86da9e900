"""`python -m maratron_context`: run the context service."""

from maratron_service.app import run_service

from maratron_context.app import build_app
from maratron_context.settings import ContextSettings

if __name__ == "__main__":
    run_service(build_app, ContextSettings)
