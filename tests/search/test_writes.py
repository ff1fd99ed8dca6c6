"""Writes: replace, remove, rebuild under load, and many writer processes at once."""

import multiprocessing
import os
import threading

import pytest

from archive.services.search import BACKENDS, SearchQuery, Visibility, open_search
from archive.services.search.analysis import warm_up
from archive.services.search.service import IndexFormatError

from .sample import CORPUS, make_doc

ALL = Visibility(unrestricted=True)


def total(service, text):
    return service.search(SearchQuery(text=text), ALL).total


def test_index_document_replaces_by_id(service):
    service.index_many(CORPUS)
    service.index_document(make_doc(3, 2, "认购书", "改为预约单"))
    assert total(service, "认购书") == 1  # still found by its title
    assert total(service, "HT-2024-0031") == 0
    assert total(service, "预约单") == 1
    assert service.document_ids() == set(range(1, 17))


def test_remove_document(service):
    service.index_many(CORPUS)
    service.remove_document(3)
    service.remove_document(999)  # unknown ids are ignored
    assert total(service, "认购书") == 0
    assert service.document_ids() == set(range(1, 17)) - {3}


def test_empty_index_finds_nothing(service):
    assert service.search(SearchQuery(text="维修"), ALL).total == 0
    assert service.document_ids() == set()


def test_a_second_instance_sees_commits(service, backend, tmp_path):
    other = open_search(backend, tmp_path / "index")
    try:
        service.index_document(CORPUS[0])
        assert total(other, "报修") == 1
        other.remove_document(1)
        assert total(service, "报修") == 0
    finally:
        other.close()


def test_rebuild_swaps_atomically_while_searches_run(service, backend, tmp_path):
    service.index_many(CORPUS)
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_loop():
        reader = open_search(backend, tmp_path / "index")
        try:
            while not stop.is_set():
                seen.append(total(reader, "维修"))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            reader.close()

    thread = threading.Thread(target=search_loop)
    thread.start()
    extra = make_doc(17, 1, "新增", "维修完成")
    for _ in range(3):
        assert service.rebuild(iter([*CORPUS, extra]), total=17) == 17
    stop.set()
    thread.join()
    assert not errors
    assert seen and set(seen) <= {8, 9}  # old or new index, never a half-built one
    assert total(service, "维修") == 9
    generations = [p for p in service.directory.root.iterdir() if p.name.startswith("gen-")]
    assert len(generations) == 1


def test_a_search_follows_a_swap_that_lands_between_link_and_reload(
        service, backend, tmp_path):
    """The race behind a flaky failure: a searcher reads the link (still the old
    generation), then a rebuild elsewhere swaps and deletes that generation before the
    searcher reloads it. The search follows the link again instead of failing."""
    service.index_many(CORPUS)
    reader = open_search(backend, tmp_path / "index")
    try:
        assert total(reader, "维修") == 8
        service.index_many([make_doc(17, 1, "新增", "维修完成")])  # reader must reload
        ensure = reader.directory.ensure

        def ensure_then_rebuild(create):
            path = ensure(create)
            reader.directory.ensure = ensure  # only once
            service.rebuild(iter([*CORPUS, make_doc(18, 1, "再增", "维修完成")]))
            assert not path.exists()  # the generation the reader holds is gone
            return path

        reader.directory.ensure = ensure_then_rebuild
        assert total(reader, "维修") == 9
    finally:
        reader.close()


def test_failed_rebuild_keeps_the_old_index(service, tmp_path):
    service.index_many(CORPUS)

    def broken():
        yield CORPUS[0]
        raise RuntimeError("database went away")

    try:
        service.rebuild(broken())
    except RuntimeError:
        pass
    assert service.document_ids() == set(range(1, 17))
    assert len([p for p in service.directory.root.iterdir() if p.name.startswith("gen-")]) == 1


def _write_batch(backend: str, root: str, worker: int) -> None:
    svc = open_search(backend, root)
    docs = [make_doc(doc_id, 1 + doc_id % 3, f"并发{doc_id}", f"进程{worker}写入维修单")
            for doc_id in range(1000 + worker * 25, 1025 + worker * 25)]
    # Single-document commits and one batch, interleaved with the other processes.
    for doc in docs[:5]:
        svc.index_document(doc)
    svc.index_many(docs[5:])
    svc.close()


def test_concurrent_writer_processes(backend, tmp_path):
    warm_up()  # the forked writers inherit the loaded dictionaries, like gunicorn workers
    root = tmp_path / "index"
    # fork, as gunicorn starts its workers
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_batch, args=(backend, str(root), w)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 8
    service = open_search(backend, root)
    try:
        assert service.document_ids() == set(range(1000, 1200))
        assert total(service, "写入维修单") == 200
    finally:
        service.close()


def _stamped_index(root, backend, stamp):
    """The CORPUS indexed under `root`, its live generation then stamped `stamp`."""
    svc = open_search(backend, root)
    svc.index_many(CORPUS)
    svc.close()
    generation = root / backend / os.readlink(root / backend / "current")
    (generation / "FORMAT").write_text(stamp)
    return generation


def test_an_index_of_an_older_format_is_replaced_by_an_empty_one(backend, tmp_path):
    """An index whose terms this code does not write (an older schema or analysis) is
    never searched: it gives way to an empty index of the current format, which
    `flask reindex --if-needed` refills from the database."""
    root = tmp_path / "index"
    old_generation = _stamped_index(root, backend, f"{backend}-1")
    svc = open_search(backend, root)
    assert svc.document_ids() == set()
    assert not old_generation.exists()
    svc.index_many(CORPUS)
    assert total(svc, "认购书") == 1
    svc.close()
    assert open_search(backend, root).document_ids() == set(range(1, 17))  # kept from now on


def test_the_index_of_a_release_before_per_backend_folders_is_removed(backend, tmp_path):
    root = tmp_path / "index"
    legacy = root / "gen-1-1"
    legacy.mkdir(parents=True)
    (legacy / "meta.json").write_text("{}")
    os.symlink("gen-1-1", root / "current")
    svc = open_search(backend, root)
    assert not legacy.exists() and not (root / "current").is_symlink()
    svc.index_many(CORPUS)
    assert total(svc, "认购书") == 1


def test_an_index_of_a_newer_release_is_left_alone(backend, tmp_path):
    root = tmp_path / "index"
    newer = _stamped_index(root, backend, f"{backend}-999")
    files = sorted(p.name for p in newer.iterdir())
    with pytest.raises(IndexFormatError, match="newer than this release"):
        open_search(backend, root)
    assert sorted(p.name for p in newer.iterdir()) == files


def test_the_two_backends_keep_their_own_indexes(tmp_path):
    root = tmp_path / "index"
    services = {backend: open_search(backend, root) for backend in BACKENDS}
    for number, svc in enumerate(services.values(), start=1):
        svc.index_many(CORPUS[:number])
    for number, backend in enumerate(BACKENDS, start=1):
        services[backend].close()
        assert open_search(backend, root).document_ids() == {d["id"] for d in CORPUS[:number]}


def test_a_writer_that_meets_an_older_index_under_its_lock_replaces_it(service):
    """A commit by an older release's worker swaps in a generation of its format while
    this service is open; the next write replaces it while holding the write lock
    (which it takes again, re-entrantly) instead of waiting for itself forever."""
    service.index_many(CORPUS)
    older = service.directory.new_generation()
    service._new_index(older)
    (older / "FORMAT").write_text("older-1")
    with service.directory.write_lock():
        service.directory.swap(older)
    writer = threading.Thread(target=service.index_document, args=(make_doc(40, 1, "新文件", "补充材料"),),
                              daemon=True)
    writer.start()
    writer.join(timeout=20)
    assert not writer.is_alive(), "index_document deadlocked"
    assert service.document_ids() == {40}
    assert total(service, "补充材料") == 1
