"""Services never end a transaction: a web route, an API route, a CLI command or an import
row opens the unit of work (archive.services.work) and commits once (issue 15)."""

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[1] / "archive" / "services"

# The unit of work itself, and the search index's writes: they run after a unit has
# committed, in short transactions of their own, so that the index write never holds
# SQLite's write lock ("work that follows the commit", registered with work.after_commit).
# The batch writer of uploads and a search's catching up with it are such writes too: they
# run after the upload's unit, and before the search opens its own.
ALLOWED = {
    "work.py": None,  # every function
    "indexing.py": {"_index_locked", "write", "clear", "_flag", "all_documents", "rebuild",
                    "rebuild_if_needed"},
    "index_batches.py": {"_flagged", "catch_up"},
}


def transaction_ends(source: str) -> list[tuple[str, int, str]]:
    """(function, line, method) of every .commit() and .rollback() call in `source`."""
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name if function is None else function
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                    and child.func.attr in ("commit", "rollback")):
                found.append((name or "<module>", child.lineno, child.func.attr))
            visit(child, name)
    visit(ast.parse(source), None)
    return found


def test_no_service_commits_or_rolls_back():
    offending = []
    for path in sorted(SERVICES.glob("*.py")):
        allowed = ALLOWED.get(path.name, set())
        for function, line, method in transaction_ends(path.read_text(encoding="utf-8")):
            if allowed is None or function in allowed:
                continue
            offending.append(f"archive/services/{path.name}:{line} {function}() calls .{method}()")
    assert offending == [], ("services must not end the transaction; open a unit in the caller "
                             "(work.unit) or register work.after_commit:\n" + "\n".join(offending))


def test_the_check_finds_a_commit_wherever_it_is_written():
    source = (
        "def create(session):\n"
        "    session.add(1)\n"
        "    db.session.commit()\n"
        "def undo(session):\n"
        "    def inner():\n"
        "        session.rollback()\n"
        "    inner()\n"
    )
    assert transaction_ends(source) == [("create", 3, "commit"), ("undo", 6, "rollback")]
