"""`python -m maratron_insights`: run the insights service."""

from maratron_service.app import run_service

from maratron_insights.app import build_app
from maratron_insights.settings import InsightsSettings

if __name__ == "__main__":
    run_service(build_app, InsightsSettings)
