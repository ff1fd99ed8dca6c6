"""Bulk import (批量导入, issue 19): a folder with a manifest, filed row by row through the
same steps as an upload (filing.preflight, read_files, file_intake: type by content,
limits, extraction, numbering, audit), customers and dossiers opened when missing.

A row is written in a savepoint: its document, any customer or dossier it opened, its
audit events and its row state are kept together or not at all, so a bad row never stops
the rest and never half-files. Rows commit `IMPORT_ROWS_PER_COMMIT` at a time (one write
lock and one commit for the lot); a unit that fails as a whole is written again row by
row. A rerun of the same manifest (after a crash, a kill, or with refused rows put right)
files only what is not filed yet. Reading and extracting the files, the slow part, runs
in a pool of processes ahead of the rows being written; the index is written once per
batch of rows, after their commits (docs/import.md).
"""

import csv
import gc
import io
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy import inspect as sa_inspect

from archive.clock import now
from archive.models import Customer, Document, Dossier, StoredFile, User
from archive.models.enums import DocumentStatus
from archive.models.imports import SETTLED, Import, ImportRow, ImportState, RowState
from archive.models.retention import RetentionRule
from archive.services import (
    access,
    audit,
    customers,
    filing,
    import_indexing,
    import_reading,
    import_sources,
    numbering,
    personal_data,
    spreadsheets,
    work,
)
from archive.services.errors import Conflict, DomainError, Invalid
from archive.services.search import analysis
from archive.services.storage import LocalBlobStore

log = logging.getLogger(__name__)


@dataclass
class Settings:
    """What the app gives an import: where blobs go, the upload limits, the dossier number
    format, how many processes read files, rows per index write and the lease."""

    store: LocalBlobStore
    limits: filing.Limits
    number_format: str
    code_format: str = numbering.DEFAULT_CUSTOMER_CODE
    workers: int = 0
    batch: int = 200
    rows_per_commit: int = 25
    lease_seconds: int = 300
    root: Path | None = None  # where uploaded ZIPs are unpacked until imported
    zip_limits: import_sources.ZipLimits = field(default_factory=lambda: import_sources.ZipLimits(
        max_entries=50_000, max_total_bytes=4 * 2**30))

    @classmethod
    def from_app(cls, app) -> "Settings":
        """The settings `app` is configured with (IMPORT_WORKERS, IMPORT_BATCH, ...)."""
        config = app.config
        return cls(store=app.extensions["blob_store"], limits=filing.Limits.from_config(config),
                   number_format=config["DOSSIER_NUMBER_FORMAT"],
                   code_format=config["CUSTOMER_CODE_FORMAT"],
                   workers=config.get("IMPORT_WORKERS", os.cpu_count() or 1),
                   batch=config.get("IMPORT_BATCH", 200),
                   rows_per_commit=config.get("IMPORT_ROWS_PER_COMMIT", 25),
                   lease_seconds=config.get("IMPORT_LEASE_SECONDS", 300),
                   root=Path(config["INSTANCE_DIR"]) / "imports",
                   zip_limits=import_sources.ZipLimits(
                       max_entries=config.get("IMPORT_MAX_ENTRIES", 50_000),
                       max_total_bytes=config.get("IMPORT_MAX_UNPACKED_MB", 4096) * 2**20))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_alive(name: str) -> bool:
    """Whether the process named `name` (host:pid) may still be running: one on this host
    is asked directly, one elsewhere is trusted until its lease runs out."""
    host, _, pid = name.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- opening an import -------------------------------------------------------------------

def open_import(session, actor: User, folder: Path, *, kind: str, source: str,
                manifest: str | None = None) -> Import:
    """The import of the manifest in `folder`: the one already known by the manifest's
    SHA-256 (a rerun resumes it), or a new one, queued. The manifest is read and checked
    here; a manifest that cannot be read is refused as a whole (nothing is recorded)."""
    access.require(actor, "import.run")
    sheet = import_sources.read_manifest(import_sources.find_manifest(folder.resolve(), manifest))
    # Under the row's lock, as the worker's claim takes it (run): a request sending the
    # same manifest again while a worker claims it sees it running, rather than writing
    # it back to queued and replacing the folder the worker reads.
    batch = session.execute(
        select(Import).where(Import.manifest_sha256 == sheet.sha256).with_for_update()
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if batch is None:
        batch = Import(manifest_sha256=sheet.sha256, kind=kind, source=source[:500],
                       created_by_id=actor.id)
        if not work.insert(session, batch):  # the same manifest, opened at the same instant
            raise Conflict("这份清单正由另一个请求同时导入，请稍后再试", code="import_running")
        audit.record(session, actor, "import.opened", batch, manifest=sheet.sha256,
                     source=source[:200], rows=len(sheet.rows))
    elif batch.state == ImportState.RUNNING and not lease_over(batch):
        raise Conflict(f"这份清单正在导入（导入 #{batch.id}，{batch.worker}），请稍后再试",
                       code="import_running")
    else:
        batch.kind, batch.source = kind, source[:500]
        batch.state, batch.error = ImportState.QUEUED.value, None
        audit.record(session, actor, "import.resumed", batch, source=source[:200])
    batch.rows_total = len(sheet.rows)
    batch.updated_at = now()
    session.flush()
    return batch


def lease_over(batch: Import) -> bool:
    return (batch.lease_until is None or batch.lease_until < now()
            or not _holder_alive(batch.worker))


# -- running it --------------------------------------------------------------------------

def run(session, actor: User, import_id: int, folder: Path, settings: Settings, *,
        progress=None) -> Import | None:
    """Run (or resume) import `import_id` on `folder` if it is waiting (queued, or running
    in a process that has gone): every row not yet filed or skipped is filed, skipped or
    refused, `settings.rows_per_commit` rows a unit; the index is written after every
    `settings.batch` documents and at the end. `progress(done, total)` is called per
    unit. None if it was not this process's to run."""
    folder = folder.resolve()
    me = worker_name()
    with work.unit(session):
        batch = session.execute(
            select(Import).where(Import.id == import_id).with_for_update()
            .execution_options(populate_existing=True)).scalar_one()
        waiting = batch.state == ImportState.QUEUED or (
            batch.state == ImportState.RUNNING and lease_over(batch))
        if waiting:  # claimed under the row lock: a second worker now finds it running
            batch.start(me, now() + timedelta(seconds=settings.lease_seconds), now())
    if not waiting:
        return None  # done, failed, or running in a live process
    try:
        manifest = import_sources.find_manifest(folder)
        sheet = import_sources.read_manifest(manifest)
        if sheet.sha256 != batch.manifest_sha256:
            raise Invalid("清单在排队后被改动，请重新导入", code="bad_manifest")
    except DomainError as exc:
        with work.unit(session):
            batch.fail(exc.message, now())
        return batch
    with work.unit(session):
        known = {row.row_number: row for row in session.execute(
            select(ImportRow).where(ImportRow.import_id == batch.id)).scalars()}
        settled = {n for n, row in known.items() if row.state in SETTLED}
        batch.rows_total, batch.rows_done = len(sheet.rows), len(settled)
    todo = [row for row in sheet.rows if row[0] not in settled]
    _warm_up()
    # This process alone runs the import now (it holds the lease): the rows it knows of
    # are all there are, so a new row is written without looking for it first.
    # The schedule's rows are held while the import runs, so that the session's identity
    # map (which holds objects weakly) keeps them: every document's retention is counted
    # from one of them.
    rows = _Rows(batch, set(known) - settled,
                 kept=session.execute(select(RetentionRule)).scalars().all())
    # The rows name their files from the manifest's folder: the top, or the one sub-folder
    # a ZIP made from a folder holds everything in.
    files = manifest.parent.resolve()
    # Forked before the readers, while this process holds no transaction.
    indexer = import_indexing.Indexer(session, settings.batch,
                                      beside=import_reading.pooled(todo, settings.workers))
    try:
        reader = import_reading.Reader(files, todo, settings.limits, settings.workers,
                                       settings.store, ahead=2 * settings.rows_per_commit
                                       + 8 * max(settings.workers, 1))
        dossiers: dict[tuple, Dossier] = {}
        for chunk in _chunks(reader, settings.rows_per_commit):
            indexer.add(_write_rows(session, actor, rows, chunk, settings, dossiers))
            if progress:
                progress(batch.rows_done, batch.rows_total)
        indexer.finish()
    finally:
        indexer.close()
    with work.unit(session):
        batch.finish(now())
        audit.record(session, actor, "import.finished", batch, **counts(session, batch))
    return batch


_warmed = False


def _warm_up() -> None:
    """Load the search analysis (jieba's dictionary: some 350 000 objects) before the
    readers fork, and once per process take what is alive then out of the garbage
    collector's sight (gc.freeze): a full collection walked the dictionary again, and
    an import's writer allocates enough to run them (docs/import.md)."""
    global _warmed
    if not _warmed:
        analysis.warm_up()
        gc.freeze()
        _warmed = True


@dataclass
class _Rows:
    """The import being run, and the numbers of its rows written by an earlier run."""

    batch: Import
    written: set[int]
    kept: list = field(default_factory=list)  # rows reused by every row, held in the session


def _chunks(reader, size: int):
    """The rows read, `size` at a time: a chunk is written once it is read, so the unit
    that writes it never waits on the readers while it holds the write lock."""
    chunk = []
    for item in reader:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_rows(session, actor: User, rows: _Rows, chunk: list, settings: Settings,
                dossiers: dict) -> list[int]:
    """Write `chunk` in one unit; the ids of the documents filed. If the unit as a whole
    fails (its commit, or an error a savepoint cannot contain), nothing of it is kept and
    its rows are written again one unit each, so that only the row at fault is refused."""
    if len(chunk) > 1:
        try:
            return _write_unit(session, actor, rows, chunk, settings, dossiers)
        except Exception:  # noqa: BLE001 - retried row by row below
            log.exception("import %s: a unit of %d rows failed; writing them one by one",
                          rows.batch.id, len(chunk))
    return [document for row in chunk
            for document in _write_unit(session, actor, rows, [row], settings, dossiers)]


def _write_unit(session, actor: User, rows: _Rows, chunk: list, settings: Settings,
                dossiers: dict) -> list[int]:
    """Write `chunk` as one unit, each row in a savepoint of its own (so a refused row
    undoes only itself); the ids of the documents filed. The dossiers its rows resolved
    are remembered for later rows once the unit has committed."""
    opened: dict[tuple, Dossier] = {}
    states: list[dict] = []
    committed: list[bool] = []
    try:
        with work.unit(session):
            # Runs first of the unit's after-commit work: what fails after it (handing jobs
            # to the queue) cannot make the unit look unwritten and be written again.
            work.after_commit(session, lambda: committed.append(True))
            # The head first, outside the rows' savepoints: a lock taken inside one is let
            # go when a refused row rolls it back (PostgreSQL), and the lock order is head
            # first.
            audit.hold_head(session)
            held = _held(session, chunk)
            filed = [_row(session, actor, rows, number, values, read, settings,
                          {**dossiers, **opened}, opened, held, states)
                     for (number, values), read in chunk]
            _write_states(session, rows, states)
            _progressed(rows.batch, len(chunk), settings)
    except Exception:
        if not committed:
            raise
        log.exception("import %s: work after a unit's commit failed; its %d rows are written",
                      rows.batch.id, len(chunk))
    dossiers.update(opened)
    return [document for document in filed if document is not None]


def _progressed(batch: Import, done: int, settings: Settings) -> None:
    """Count a unit's rows as done and renew the lease, once per unit (written with its
    commit): an import whose lease ran out has stopped."""
    moment = now()
    batch.rows_done += done
    batch.updated_at = moment
    batch.lease_until = moment + timedelta(seconds=settings.lease_seconds)


def _row(session, actor: User, rows: _Rows, number: int, values: dict,
         read: import_reading.Read, settings: Settings, dossiers: dict,
         opened: dict, held: dict, states: list[dict]) -> int | None:
    """File, skip or refuse one row in a savepoint of the caller's unit; the id of a
    filed document. `dossiers` holds, for the customer and unit columns of rows already
    written, the dossier they resolved to: most rows of a manifest name a customer and
    unit an earlier row has found or opened. A dossier this row resolved goes into
    `opened` once its savepoint is released, the document it filed into `held` (see
    `_held`), and its outcome into `states`, written with the unit's others."""
    batch = rows.batch
    label = values.get("customer_name") or values.get("customer_code") or ""
    found = {"customer": label, "dossier_number": "", "title": values.get("title", "")}
    key = tuple(values.get(k, "") for k in _CUSTOMER_AND_UNIT)
    dossier = None
    try:
        with session.begin_nested():
            if read.refused:
                raise Invalid(read.refused)
            dossier = dossiers.get(key)
            if dossier is None:
                dossier = _dossier(session, actor, values, settings, found)
            found["customer"] = f"{dossier.customer.code} {dossier.customer.name}"
            found["dossier_number"] = dossier.number
            intake = filing.preflight(session, actor, dossier.id,
                                      import_reading.filing_data(values), [],
                                      limits=settings.limits)
            intake.files, intake.fresh = read.files, set(read.created)
            intake.checked = read.checked
            intake.fields["carrier"] = read.carrier
            digests = _digests(read)
            twin = _already_filed(session, held, dossier.id, digests)
            if twin is not None:
                state = _settle(number, RowState.SKIPPED, found, document=twin,
                                reason=f"同一档案中已有相同文件（{twin.dossier.number} 第 {twin.seq} 号"
                                       f"《{twin.title}》）")
                _discard(session, settings.store, read.created)
            else:
                document, _ = filing.file_intake(session, intake, store=settings.store,
                                                 index=False)
                state = _settle(number, RowState.FILED, found, document=document)
        opened[key] = dossier
        states.append(state)
        if twin is not None:
            return None
        if digests:
            held.setdefault(dossier.id, {})[document.id] = set(digests)
        return document.id
    except DomainError as exc:
        reason = exc.message
    except Exception as exc:  # noqa: BLE001 - one row's fault must not stop the rest
        log.exception("import %s row %s failed", batch.id, number)
        reason = f"归档出错：{type(exc).__name__}: {str(exc)[:200]}"
    if dossier is not None and not sa_inspect(dossier).persistent:
        # Opened in the row's savepoint and gone with it: the report names only what is kept.
        found["dossier_number"] = ""
        customer_id = dossier.customer.id
        # Asked of the database: a customer written in a savepoint inside the row's (a
        # unique-key insert) can still look persistent to the session once both are undone.
        if customer_id is None or session.execute(
                select(Customer.id).where(Customer.id == customer_id)).first() is None:
            found["customer"] = label
    states.append(_settle(number, RowState.REFUSED, found, reason=reason))
    _discard(session, settings.store, read.created)
    return None


def _discard(session, store: LocalBlobStore, digests: list[str]) -> None:
    """Remove blobs the reading stored for a row that filed nothing, unless something
    references them now (checked under the write lock the unit holds)."""
    if digests:
        filing._discard_unreferenced(session, store, digests)


def _settle(number: int, state: RowState, found: dict, *, document: Document | None = None,
            reason: str = "") -> dict:
    """A row's outcome, as `_write_states` writes it."""
    return {
        "row_number": number, "state": state.value, "reason": reason[:500],
        "customer": found["customer"][:200], "title": found["title"][:300],
        "dossier_number": (document.dossier.number if document
                           else found["dossier_number"])[:120],
        "document_id": document.id if document else None, "updated_at": now(),
    }


def _write_states(session, rows: _Rows, states: list[dict]) -> None:
    """The unit's row outcomes, new rows in one INSERT (the ORM would flush each in its
    row's savepoint); a row refused by an earlier run is updated in place."""
    batch = rows.batch
    again = [state for state in states if state["row_number"] in rows.written]
    new = [{**state, "import_id": batch.id} for state in states
           if state["row_number"] not in rows.written]
    if new:
        session.execute(insert(ImportRow.__table__), new)
    for state in again:
        session.execute(update(ImportRow).where(
            ImportRow.import_id == batch.id, ImportRow.row_number == state["row_number"])
            .values(**{k: v for k, v in state.items() if k != "row_number"}))


def _customer(session, actor: User, values: dict, settings: Settings) -> Customer:
    code, name = values.get("customer_code", ""), values.get("customer_name", "")
    kind = values.get("customer_kind") or "person"
    kind = {"个人": "person", "公司": "company"}.get(kind, kind)
    customer = None
    if code:
        customer = session.execute(select(Customer).where(Customer.code == code)).scalar_one_or_none()
    if customer is None and values.get("id_number"):
        number = personal_data.id_number({"id_number": values["id_number"]},
                                         kind if kind in customers.KINDS else "person")
        customer = session.execute(
            select(Customer).where(Customer.id_number == number).order_by(Customer.id)
        ).scalars().first()
    if customer is None and not code and not values.get("id_number") and name:
        customer = customers.holder_of_unit(session, name, _unit_fields(values))
    if customer is not None:
        access.require(actor, "customer.view", customer)
        if name and customer.name != name:
            raise Invalid(f"客户 {customer.code} 的名称是“{customer.name}”，与清单中的“{name}”不符")
        return customer
    if not name:
        raise Invalid(f"客户 {code or values.get('id_number')} 不存在；新客户须填写客户名称")
    return customers.create_customer(session, actor, {
        "name": name, "code": code, "kind": kind, "id_number": values.get("id_number", ""),
        "department": values.get("department", "")}, code_format=settings.code_format)


def _dossier(session, actor: User, values: dict, settings: Settings, found: dict):
    customer = _customer(session, actor, values, settings)
    found["customer"] = f"{customer.code} {customer.name}"  # in the report if the unit fails
    return customers.dossier_of_unit(session, actor, customer, _unit_fields(values),
                                     number_format=settings.number_format)


_CUSTOMER_AND_UNIT = ("customer_code", "id_number", "customer_name", "customer_kind",
                      "department", "project", "building", "unit_no", "room")


def _unit_fields(values: dict) -> dict:
    return {k: values.get(k, "") for k in ("project", "building", "unit_no", "room")}


def _digests(read: import_reading.Read) -> set[str]:
    import hashlib

    return {hashlib.sha256(blob).hexdigest() for _, blob, _, _ in read.files or ()}


def _held(session, chunk: list) -> dict[int, dict[int, set[str]]]:
    """Every kept document that holds a file of the unit's rows, as {dossier id: {document
    id: the digests among them it holds}}, in one query for the unit (under its write
    lock); the unit's rows add the documents they file."""
    digests = {digest for _, read in chunk for digest in _digests(read)}
    held: dict[int, dict[int, set[str]]] = {}
    if digests:
        for dossier_id, document_id, digest in session.execute(
                select(Document.dossier_id, StoredFile.document_id, StoredFile.sha256)
                .join(Document, Document.id == StoredFile.document_id)
                .where(StoredFile.sha256.in_(digests),
                       Document.status == DocumentStatus.ACTIVE.value)):
            held.setdefault(dossier_id, {}).setdefault(document_id, set()).add(digest)
    return held


def _already_filed(session, held: dict, dossier_id: int, digests: set[str]) -> Document | None:
    """A document of the dossier that holds every one of the row's files already (same
    SHA-256): the row was filed before (by an earlier run, another manifest, by hand, or
    an earlier row of this one)."""
    if not digests:
        return None
    for document_id, found in sorted(held.get(dossier_id, {}).items()):
        if digests <= found:
            return session.get(Document, document_id)
    return None


# -- reading it back ---------------------------------------------------------------------

def get_import(session, actor: User, import_id) -> Import:
    """An import and its rows, for the archive room."""
    access.require(actor, "import.run")
    return customers.get_or_404(session, Import, import_id, "导入任务不存在")


def list_imports(session, actor: User, limit: int = 50) -> list[Import]:
    access.require(actor, "import.run")
    return session.execute(select(Import).order_by(Import.id.desc()).limit(limit)).scalars().all()


def counts(session, batch: Import) -> dict[str, int]:
    """Rows per state: filed, skipped, refused, and waiting (not reached yet)."""
    found = dict.fromkeys((s.value for s in RowState), 0)
    found.update(dict(session.execute(
        select(ImportRow.state, func.count()).where(ImportRow.import_id == batch.id)
        .group_by(ImportRow.state)).all()))
    found["waiting"] = max(batch.rows_total - sum(found.values()), 0)
    return found


REPORT_COLUMNS = ("行号", "结果", "客户", "档案号", "题名", "文件ID", "原因")


def report_csv(batch: Import) -> str:
    """The report, one line per row of the manifest reached so far (UTF-8 with BOM, so
    that Excel opens the Chinese right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for row in batch.rows:
        writer.writerow(spreadsheets.row([
            row.row_number, row.state_enum.label, row.customer, row.dossier_number, row.title,
            row.document_id, row.reason]))
    return out.getvalue()
