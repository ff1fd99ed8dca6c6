"""An import killed with SIGKILL mid-way (no cleanup, no finally: a blob stored and a
document written but not committed) resumes when run again: every row filed exactly
once, nothing lost, every document searchable (issue 19)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from archive import samples
from archive.extensions import db
from archive.models import Document, Import, ImportRow
from tests.import_folders import row, write_manifest

ROOT = Path(__file__).resolve().parent.parent
ROWS = 12

# Runs the import four rows a unit and dies inside the second unit, in its first row: its
# blob is stored and its document flushed, nothing of it committed; the first unit's four
# rows are committed before it.
KILLED_IMPORT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from archive import create_app
    from archive.extensions import db
    from archive.models import User
    from archive.services import filing, imports, work
    from config import TestConfig

    if __name__ == "__main__":  # the reading processes import this file again
        app = create_app(TestConfig(sys.argv[1]))
        app.config["IMPORT_ROWS_PER_COMMIT"] = 4
        original, calls = filing.file_intake, []

        def dying(*args, **kwargs):
            result = original(*args, **kwargs)
            calls.append(1)
            if len(calls) == 5:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        filing.file_intake = dying
        with app.app_context():
            officer = db.session.query(User).filter_by(username="officer").one()
            folder = Path(sys.argv[2])
            with work.unit(db.session):
                batch = imports.open_import(db.session, officer, folder, kind="folder", source="x")
            imports.run(db.session, officer, batch.id, folder, imports.Settings.from_app(app))
""")


def test_an_import_killed_mid_way_resumes_without_duplicates_or_losses(app, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    rows = []
    for n in range(ROWS):
        name = f"文件{n:02d}.pdf"
        (folder / name).write_bytes(samples.make_pdf(f"断电导入{n}", [f"断电导入测试第{n}份：青瓷回廊"]))
        rows.append(row(f"断电导入{n}", name, room=str(100 + n % 3)))
    rows.append(row("纸质登记表", "", room="100", category="其他"))  # paper-only: no bytes
    write_manifest(folder, rows)
    script = tmp_path / "killed_import.py"
    script.write_text(KILLED_IMPORT)
    app.extensions["search"].close()  # the child writes the same index
    done = subprocess.run([sys.executable, str(script), str(tmp_path), str(folder)],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, timeout=180)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    from archive.services.search import open_search

    app.extensions["search"] = open_search(app.config["SEARCH_BACKEND"], app.config["INDEX_DIR"])
    db.session.expire_all()
    assert db.session.query(Document).count() == 4  # the fifth died uncommitted
    assert db.session.query(ImportRow).count() == 4
    assert db.session.query(Import).one().state == "running"

    result = app.test_cli_runner().invoke(args=["import", str(folder), "--user", "officer"])
    assert result.exit_code == 0, result.output
    assert f"归档 {ROWS + 1} 行，跳过（已归档）0 行，拒收 0 行" in result.output
    titles = sorted(t for (t,) in db.session.query(Document.title))
    assert titles == sorted([f"断电导入{n}" for n in range(ROWS)] + ["纸质登记表"])
    # Sequence numbers are unique per group: the killed row's number was never committed.
    seqs = db.session.query(Document.group_id, Document.seq).all()
    assert len(set(seqs)) == len(seqs)
    ids = {d for (d,) in db.session.query(Document.id)}
    assert set(app.extensions["search"].document_ids()) == ids
    assert db.session.query(Document).filter_by(needs_index=True).count() == 0
    assert db.session.query(Import).one().state == "done"

    # And once more: nothing filed twice, the paper-only row included.
    again = app.test_cli_runner().invoke(args=["import", str(folder), "--user", "officer"])
    assert again.exit_code == 0 and db.session.query(Document).count() == ROWS + 1
