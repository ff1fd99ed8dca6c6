"""Dependencies point one way (STYLE.md): models <- services <- web/api/cli, and production
code never imports the generators of demo and test files.

Read from the source, not by importing it: every import statement of every module counts,
also one inside a function (which runs only when that function does).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "archive"
# The generators of sample files: realistic ones for the demo, tests and benchmarks
# (archive.samples), broken and hostile ones for tests (tests.*).
SAMPLE_MODULES = ("archive.samples", "tests")
# Not production code: the demo loader and the sample generators themselves.
NOT_PRODUCTION = ("archive.demo", "archive.samples")

RULES = {
    "archive.models": ("archive.services", "archive.web", "archive.api", "archive.cli",
                       *NOT_PRODUCTION, "tests"),
    "archive.services": ("archive.web", "archive.api", "archive.cli", *NOT_PRODUCTION, "tests"),
    "archive.api": ("archive.web", *SAMPLE_MODULES),
    "archive": SAMPLE_MODULES,
}
def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> list[tuple[int, set[str]]]:
    """Each import statement of `path` as (line, the module names it may import); `from a
    import b` may import a and a.b (b may be a module: `from archive import samples`)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    statements = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            statements.append((node.lineno, {alias.name for alias in node.names}))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            statements.append((node.lineno, {base, *(f"{base}.{alias.name}" for alias in node.names)}))
    return statements


def _imported(path: Path, module: str) -> set[str]:
    return set().union(*(names for _, names in _imports(path, module)))


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


MODULES = {_module_name(path): path for path in sorted(ARCHIVE.rglob("*.py"))}


def _violations(layer: str) -> list[str]:
    found = []
    for module, path in MODULES.items():
        if not _within(module, layer) or any(_within(module, own) for own in NOT_PRODUCTION):
            continue
        for line, names in _imports(path, module):
            banned = sorted(name for name in names
                            if any(_within(name, prefix) for prefix in RULES[layer]))
            if banned:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {banned[0]}")
    return found


def test_the_source_tree_is_read():
    assert {"archive.models.customer", "archive.services.access", "archive.api.routes",
            "archive.web.audit_view", "archive.cli"} <= set(MODULES)
    # audit imports access inside a function only.
    assert "archive.services.access" in _imported(MODULES["archive.services.audit"],
                                                 "archive.services.audit")


def test_relative_imports_and_modules_imported_by_name_are_seen(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ..web import audit_view\nfrom archive import samples\n", encoding="utf-8")
    assert {"archive.web.audit_view", "archive.samples"} <= _imported(probe, "archive.api.probe")


@pytest.mark.parametrize("layer", list(RULES))
def test_dependencies_point_one_way(layer):
    found = _violations(layer)
    assert not found, "\n".join(found)
