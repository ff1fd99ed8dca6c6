"""Writes: replace, remove, rebuild under load, and many writer processes at once."""

import multiprocessing
import os
import threading

import pytest

from archive.services.search import BACKENDS, SearchQuery, Visibility, open_search
from archive.services.search.analysis import warm_up

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
    generations = [p for p in (tmp_path / "index").iterdir() if p.name.startswith("gen-")]
    assert len(generations) == 1


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
    assert len([p for p in (tmp_path / "index").iterdir() if p.name.startswith("gen-")]) == 1


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


@pytest.mark.parametrize("origin", ["older release", "other backend"])
def test_an_index_of_another_format_is_replaced_by_an_empty_one(backend, tmp_path, origin):
    """An index whose terms this code does not write (an older schema or analysis, or the
    other backend's files) is never searched: it gives way to an empty index of the
    current format, which `flask reindex --if-needed` refills from the database."""
    root = tmp_path / "index"
    writer = backend if origin == "older release" else next(b for b in BACKENDS if b != backend)
    old = open_search(writer, root)
    old.index_many(CORPUS)
    old.close()
    old_generation = root / os.readlink(root / "current")
    if origin == "older release":
        (old_generation / "FORMAT").unlink()  # releases before formats wrote none
    svc = open_search(backend, root)
    assert svc.document_ids() == set()
    assert not old_generation.exists()
    svc.index_many(CORPUS)
    assert total(svc, "认购书") == 1
    svc.close()
    assert open_search(backend, root).document_ids() == set(range(1, 17))  # kept from now on
