"""`maratron catalog`: print the message catalog (AsyncAPI 3.0 YAML) built from the contracts."""

from __future__ import annotations

import argparse

import yaml
from maratron_contracts.asyncapi import build_document
from maratron_contracts.subjects import DEFAULT_NAMESPACE


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "catalog",
        help="print the AsyncAPI message catalog",
        description="Every command subject and event subject with its payload schema, as an "
        "AsyncAPI 3.0 document (docs/asyncapi.yaml is this output for the default namespace).",
    )
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    document = build_document(args.namespace)
    print(yaml.safe_dump(document, sort_keys=True, width=100, allow_unicode=True), end="")
    return 0
