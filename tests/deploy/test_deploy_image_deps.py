"""What each image installs is enough to import its code.

An image holds only `uv sync --frozen --no-dev --package <pkg>`: the locked dependency closure
of one service, not the whole workspace that the development venv has. A module that imports a
package its project does not declare works in every local test and breaks only in the image.
This test reads each image's closure from the lock (`uv export`, no install, no network) and
checks every runtime import of every workspace package in it against that closure.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE_PACKAGES = {
    "mcp-gateway": "maratron-gateway",
    "runs": "maratron-runs",
    "context": "maratron-context",
    "insights": "maratron-insights",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        pytest.skip("uv is not on PATH: cannot read an image's dependency closure from uv.lock")
    return found


@functools.cache
def closure(package: str) -> tuple[frozenset[Path], frozenset[str]]:
    """(workspace member dirs, third-party distribution names) the image of `package` gets."""
    proc = subprocess.run(
        [uv(), "export", "--frozen", "--no-dev", "--package", package, "--no-hashes",
         "--no-header", "--no-annotate"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    members: set[Path] = set()
    dists: set[str] = set()
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e "):
            members.add((REPO / line[3:].strip()).resolve())
        else:
            dists.add(canonical(re.split(r"[=<>!~;\s\[]", line, maxsplit=1)[0]))
    return frozenset(members), frozenset(dists)


def workspace_modules() -> dict[str, Path]:
    """Top-level import name -> workspace member dir, for every member."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    modules: dict[str, Path] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for member in REPO.glob(pattern):
            src = member / "src"
            if (member / "pyproject.toml").is_file() and src.is_dir():
                for pkg in src.iterdir():
                    if (pkg / "__init__.py").is_file():
                        modules[pkg.name] = member.resolve()
    return modules


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside `if TYPE_CHECKING:` or a `try` that handles ImportError: not a hard import."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.If) and child in parent.body:
            test = ast.unparse(parent.test)
            if test in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}:
                return True
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                caught = ast.unparse(handler.type) if handler.type else "BaseException"
                if any(n in caught for n in ("ImportError", "ModuleNotFoundError", "Exception")):
                    return True
        child, parent = parent, parents.get(parent)
    return False


def runtime_imports(source_dir: Path) -> Iterator[tuple[Path, int, str]]:
    """(file, line, top-level module) of every unguarded absolute import under source_dir."""
    for path in sorted(source_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if _guarded(node, parents):
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "__future__":
                    yield path, node.lineno, top


def test_import_scanner_skips_guarded_imports(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "import os\nfrom typing import TYPE_CHECKING\nimport requests\n"
        "if TYPE_CHECKING:\n    import numpy\n"
        "try:\n    import orjson\nexcept ImportError:\n    orjson = None\n"
        "def f():\n    from yaml import safe_load\n"
        "from . import sibling\n"
    )
    found = {name for _, _, name in runtime_imports(tmp_path)}
    assert found == {"os", "typing", "requests", "yaml"}


@pytest.mark.parametrize("service", sorted(IMAGE_PACKAGES))
def test_image_closure_covers_every_runtime_import(service: str) -> None:
    package = IMAGE_PACKAGES[service]
    members, dists = closure(package)
    assert (REPO / "services" / service).resolve() in members
    ws_modules = workspace_modules()
    module_dists = packages_distributions()
    problems: list[str] = []
    for member in sorted(members):
        for path, line, top in runtime_imports(member / "src"):
            where = f"{path.relative_to(REPO)}:{line}"
            if top in sys.stdlib_module_names:
                continue
            if top in ws_modules:
                if ws_modules[top] not in members:
                    problems.append(f"{where}: imports {top}, a workspace package not in the image")
                continue
            provided_by = {canonical(d) for d in module_dists.get(top, [])}
            if not provided_by:
                problems.append(f"{where}: imports {top}, which no installed distribution provides")
            elif not provided_by & dists:
                problems.append(
                    f"{where}: imports {top} (from {sorted(provided_by)}), not a dependency of "
                    f"{package}'s closure: declare it in that project's pyproject.toml"
                )
    assert not problems, f"image of {package}:\n" + "\n".join(problems)
