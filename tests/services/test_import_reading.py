"""The import's readers run ahead of its writer (issue 19): far enough to cover the
writer's units, never further than their bytes allow."""

from archive import samples
from archive.services import filing, import_reading
from archive.services.storage import LocalBlobStore


def _rows(folder, count: int, size: int = 0):
    folder.mkdir()
    rows = []
    for i in range(count):
        name = f"合同{i}.pdf"
        (folder / name).write_bytes(samples.make_pdf(f"合同{i}", ["正文", "填充" * size]))
        rows.append((i + 2, {"title": f"合同{i}", "files": name}))
    return rows


def _first_read(tmp_path, monkeypatch, rows, **options) -> int:
    """How many rows were read by the time the writer takes the first."""
    calls = []
    original = import_reading.read_row
    monkeypatch.setattr(import_reading, "read_row",
                        lambda *args: calls.append(args) or original(*args))
    limits = filing.Limits(max_bytes=2**30, max_docx_uncompressed=2**30)
    reader = import_reading.Reader(tmp_path / "in", rows, limits,
                                   0, LocalBlobStore(tmp_path / "store"), **options)
    next(iter(reader))
    return len(calls)


def test_the_readers_run_as_far_ahead_as_asked(tmp_path, monkeypatch):
    """Two units of the writer's (25 rows each) and some: with 16 rows ahead, the readers
    stopped while the writer wrote a unit and it then waited for the rest of the next."""
    rows = _rows(tmp_path / "in", 60)
    assert _first_read(tmp_path, monkeypatch, rows, ahead=54) == 54


def test_the_rows_read_ahead_are_bounded_by_their_files_bytes(tmp_path, monkeypatch):
    rows = _rows(tmp_path / "in", 12, size=2000)
    size = (tmp_path / "in" / "合同0.pdf").stat().st_size
    monkeypatch.setattr(import_reading.Reader, "AHEAD_BYTES", size * 5 // 2)
    assert _first_read(tmp_path, monkeypatch, rows, ahead=54) == 3
