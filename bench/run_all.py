"""Run every benchmark module `bench/bench_*.py` against one stack and print their tables.

    uv run python bench/run_all.py [NAME ...] [--markdown]     (or: make bench)

The stack is embedded (durable settings, temporary folder) unless NATS_URL / DATABASE_URL /
REDIS_URL are set, in which case those servers are used (see maratron_devstack.open_stack).

A benchmark module defines `main(...)`, sync or async, whose parameters are taken by name from
`nats_url`, `database_url`, `redis_url`, `namespace` (a fresh one per module) and `stack` (the
whole `StackUrls`). It returns rows (a list of dicts with the same keys, e.g. benchmark, value,
unit, n), a ready-made table (str), or None when it printed its own output.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from maratron_devstack.external import Unreachable, external_urls, redact
from maratron_devstack.process import StartError
from maratron_devstack.stack import StackUrls, new_namespace, open_stack

BENCH_DIR = Path(__file__).resolve().parent


def discover(names: Sequence[str]) -> list[Path]:
    """`bench_*.py` files, all or those whose name (with or without `bench_`) is in `names`."""
    files = sorted(BENCH_DIR.glob("bench_*.py"))
    if names:
        wanted = {n.removeprefix("bench_").removesuffix(".py") for n in names}
        files = [f for f in files if f.stem.removeprefix("bench_") in wanted]
    return files


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def arguments(main: Any, urls: StackUrls) -> dict[str, Any]:
    """The keyword arguments `main` asks for, by parameter name."""
    offered: dict[str, Any] = {
        "nats_url": urls.nats_url,
        "database_url": urls.database_url,
        "redis_url": urls.redis_url,
        "namespace": new_namespace("bench"),
        "stack": urls,
    }
    chosen: dict[str, Any] = {}
    for name, parameter in inspect.signature(main).parameters.items():
        if name in offered:
            chosen[name] = offered[name]
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            raise TypeError(f"main() parameter {name!r} is not one of {sorted(offered)}")
    return chosen


def table(rows: list[dict[str, Any]], *, markdown: bool) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(values, widths, strict=True)
        ).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def run_one(path: Path, urls: StackUrls, *, markdown: bool, timeout: float) -> bool:
    print(f"\n## {path.stem}\n", flush=True)
    began = time.monotonic()
    try:
        main = load(path).main
        result = main(**arguments(main, urls))
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result, timeout))
    except TimeoutError:
        print(f"{path.stem}: FAILED (timed out after {timeout:.0f} s)", flush=True)
        return False
    except Exception:
        traceback.print_exc()
        print(f"{path.stem}: FAILED", flush=True)
        return False
    if isinstance(result, list) and result:
        print(table(result, markdown=markdown))
    elif isinstance(result, str):
        print(result)
    print(f"\n({path.stem}: {time.monotonic() - began:.1f} s)", flush=True)
    return True


async def _awaited(result: Any, seconds: float) -> Any:
    return await asyncio.wait_for(result, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds per async benchmark (default 900)"
    )
    args = parser.parse_args(argv)
    files = discover(args.names)
    if not files:
        print("no benchmark modules (bench/bench_*.py) to run")
        return 0 if not args.names else 2
    given = external_urls()
    print(f"# Maratron benchmarks ({os.cpu_count()} CPUs, Python {sys.version.split()[0]})")
    for variable in ("NATS_URL", "DATABASE_URL", "REDIS_URL"):
        where = redact(given[variable]) if variable in given else "embedded"
        print(f"# {variable}: {where}")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="maratron-bench-") as folder,
            open_stack(Path(folder) / "data", namespace=new_namespace("bench"),
                       durable=True, ephemeral=True) as stack,
        ):  # fmt: skip
            results = [
                run_one(path, stack.urls, markdown=args.markdown, timeout=args.timeout)
                for path in files
            ]
    except (Unreachable, StartError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    failed = results.count(False)
    if failed:
        print(f"\n{failed} benchmark module(s) failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
