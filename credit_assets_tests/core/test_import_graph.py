"""The core never knows the orchestrator: no module under credit_assets/core imports dagster, even indirectly."""

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "credit_assets" / "core"


def core_modules() -> list[str]:
    root = CORE.parent.parent
    return [".".join(path.relative_to(root).with_suffix("").parts) for path in sorted(CORE.rglob("*.py"))]


def imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_no_core_module_names_dagster_or_the_defs_layer() -> None:
    offenders = {
        str(path.relative_to(CORE)): sorted(
            name
            for name in imported_names(path)
            if name.split(".")[0] == "dagster" or name.startswith("credit_assets.defs")
        )
        for path in CORE.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_every_core_module_loads_no_dagster() -> None:
    modules = core_modules()
    assert len(modules) > 15
    program = (
        f"import sys\nfor name in {modules!r}: __import__(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))"
    )
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_package_uses_only_dagsters_public_api() -> None:
    """Private modules (dagster._core ...) change without notice between releases."""
    package = CORE.parent
    private = {
        str(path.relative_to(package)): sorted(name for name in imported_names(path) if name.startswith("dagster._"))
        for path in package.rglob("*.py")
    }
    assert {path: names for path, names in private.items() if names} == {}
