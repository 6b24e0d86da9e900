"""`python -m maratron_gateway` (HTTP) or `python -m maratron_gateway --stdio` (local user)."""

from __future__ import annotations

import argparse
import asyncio
import logging

import uvicorn
from maratron_service import logging as jsonlog
from maratron_service import tracing

from maratron_gateway.server import build_app, build_gateway
from maratron_gateway.settings import GatewaySettings


def configure_logging(settings: GatewaySettings) -> None:
    """JSON lines on stderr for everything, FastMCP's own (rich) handlers included."""
    jsonlog.configure(settings.service_name, settings.replica_id, settings.log_level)
    for name in ("fastmcp", "mcp", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(settings.log_level.upper())
        logger.propagate = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="maratron_gateway", description=__doc__)
    parser.add_argument(
        "--stdio",
        action="store_true",
        help="serve one local athlete over stdio (MARATRON_STDIO_SUBJECT) instead of HTTP",
    )
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    configure_logging(settings)
    tracing.configure(settings.service_name, settings.replica_id, settings.otel_exporter)
    if args.stdio:
        mcp = build_gateway(settings, stdio=True)
        asyncio.run(mcp.run_stdio_async(show_banner=False))
        return
    uvicorn.run(
        build_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        access_log=False,
        loop="uvloop",
        http="httptools",
        log_config=None,  # keep the JSON-lines root handler
        log_level=settings.log_level.lower(),
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
