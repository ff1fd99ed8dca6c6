"""四性检测 in storage (DA/T 70, 长期保存环节): `flask check-archive` and the queue's
nightly job check the whole archive and keep the report as a record.

What a run checks, each mapped to an item of `preservation.ITEMS`: every blob's SHA-256
and its type against the catalogue (fixity, format); 件号/顺序号 continuity in every group
(continuity: a number is accounted for by a document row, live or a tombstone of a
withdrawal or destruction, or by a move out of the group on the audit trail); blobs no
record refers to (orphans); the required metadata of every live document (metadata); the
search index against the database (index). The run reads in short transactions and
hashes outside any, so filing goes on meanwhile; the report is written in one unit at
the end. A run with a failure shows on the officer's dashboard until a later run passes.
"""

import csv
import io
import json
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from archive.clock import local, now
from archive.models import (
    AuditEvent,
    Document,
    Group,
    PreservationCheck,
    PreservationRun,
    StoredFile,
)
from archive.models.enums import DocumentStatus
from archive.services import access, orphans, preservation, spreadsheets, work
from archive.services.customers import get_or_404
from archive.services.errors import IntegrityError
from archive.services.preservation import FAIL, PASS

# A blob younger than this with no record may belong to an upload still being written,
# or to a refused one the orphan sweep has not reached yet: not reported.
ORPHAN_GRACE = timedelta(hours=24)
_BLOB_NAME = re.compile(r"[0-9a-f]{64}")
# Failing items listed per run and item; the rest are counted in the item's summary.
MAX_LISTED = 500


@dataclass
class Findings:
    """What a run found, before it is written."""

    started_at: object
    rows: list[PreservationCheck] = field(default_factory=list)
    checked: dict[str, str] = field(default_factory=dict)  # item -> what was checked
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def fail(self, item: str, subject: str, reason: str, *, document_id=None, file_id=None):
        self.failed[item] += 1
        if self.failed[item] <= MAX_LISTED:
            self.rows.append(PreservationCheck(
                stage="storage", item=item, outcome=FAIL, subject=subject[:200],
                reason=reason[:500], document_id=document_id, file_id=file_id,
                checked_at=now()))


def check_archive(session, store, search, *, trigger: str = "cli", progress=None,
                  still_ours=None) -> PreservationRun | None:
    """Check the whole archive and write the run with its results (one unit at the end).
    `progress(done, total)` follows the blobs being hashed. `still_ours()`, called in the
    unit that writes the report, may refuse it (False: nothing is written, None returned):
    the nightly check closes its claim there, so a run taken over by another worker
    meanwhile never writes a second report."""
    found = Findings(started_at=now())
    _fixity(session, store, found, progress)
    _continuity(session, found)
    _orphans(session, store, found)
    _metadata(session, found)
    _index(session, search, found)
    return _write(session, found, trigger, still_ours)


def _fixity(session, store, found: Findings, progress) -> None:
    # Subjects name documents and files by number only: the report is read by the whole
    # archive room and the auditors, whatever a document's level; its link opens the
    # document to those who may read it.
    with work.unit(session):
        files = session.execute(
            select(StoredFile.id, StoredFile.document_id, StoredFile.sha256,
                   StoredFile.original_name, StoredFile.kind, StoredFile.access_copy_sha256)
            .join(Document, Document.id == StoredFile.document_id)
            .where(Document.status.not_in(orphans.PURGED)).order_by(StoredFile.id)).all()
    digests = {f.sha256 for f in files}
    copies = [f for f in files if f.access_copy_sha256]
    for done, stored in enumerate(files, 1):
        where = f"文件 {stored.document_id} 的电子文件 #{stored.id}"
        try:
            data = store.get(stored.sha256)  # verified against its SHA-256 as it is read
        except IntegrityError as exc:
            what = "缺失" if exc.code == "blob_missing" else "与 SHA-256 摘要不符（已损坏）"
            found.fail("fixity", where, f"存储副本{what}：{stored.sha256}",
                       document_id=stored.document_id, file_id=stored.id)
        else:
            wrong = preservation.type_mismatch(stored, data)
            if wrong:
                found.fail("format", where, wrong, document_id=stored.document_id,
                           file_id=stored.id)
        if progress:
            progress(done, len(files))
    for stored in copies:  # a DOCX's PDF access copy (previews, stamped copies)
        try:
            store.get(stored.access_copy_sha256)
        except IntegrityError as exc:
            what = "缺失" if exc.code == "blob_missing" else "与 SHA-256 摘要不符（已损坏）"
            found.fail("fixity", f"文件 {stored.document_id} 的电子文件 #{stored.id} 的 PDF 副本",
                       f"PDF 副本{what}：{stored.access_copy_sha256}",
                       document_id=stored.document_id, file_id=stored.id)
    digests |= {f.access_copy_sha256 for f in copies}
    found.checked["fixity"] = f"核对 {len(digests)} 个存储对象的 SHA-256"
    found.checked["format"] = f"核对 {len(files)} 个电子文件的格式与著录"


def _moved_out(session) -> set[tuple[int, str, int]]:
    """(dossier, group code, number) a move took a document away from (the audit trail
    is the record of moves: the number stays unused, as numbers are never reused)."""
    gone = set()
    for details in session.execute(select(AuditEvent.details).where(
            AuditEvent.action == "document.moved")).scalars():
        data = json.loads(details or "{}")
        place = (data.get("changes", {}).get("place") or [""])[0]
        if data.get("from_dossier") and data.get("from_seq") and place.endswith(" 组"):
            code = place.removesuffix(" 组").rsplit(" ", 1)[-1]
            gone.add((data["from_dossier"], code, data["from_seq"]))
    return gone


def _continuity(session, found: Findings) -> None:
    with work.unit(session):
        groups = session.execute(select(Group.id, Group.dossier_id, Group.code, Group.last_seq)
                                 .where(Group.last_seq > 0)).all()
        held = defaultdict(set)
        for group_id, seq in session.execute(select(Document.group_id, Document.seq)):
            held[group_id].add(seq)
        moved = _moved_out(session)
    for group_id, dossier_id, code, last in groups:
        seqs = held[group_id]
        gaps = [n for n in range(1, last + 1)
                if n not in seqs and (dossier_id, code, n) not in moved]
        beyond = sorted(n for n in seqs if n > last)
        where = f"档案 {dossier_id} 的 {code} 组"
        if gaps:
            found.fail("continuity", where, f"顺序号缺号：{_numbers(gaps)}（没有文件、撤销、"
                       "销毁或移出的记录）")
        if beyond:
            found.fail("continuity", where, f"顺序号 {_numbers(beyond)} 超出分组计数 {last}")
    found.checked["continuity"] = f"核对 {len(groups)} 个分组的顺序号连续性"


def _numbers(values: list[int]) -> str:
    shown = "、".join(map(str, values[:20]))
    return shown + (f" 等 {len(values)} 个" if len(values) > 20 else "")


def _orphans(session, store, found: Findings) -> None:
    """Blobs in the store no record refers to. Every `*sha256` column of every table
    counts as a reference (so blobs a later feature keeps are never called orphans),
    except a purged document's files, whose blobs the destruction removed."""
    with work.unit(session):
        referenced = orphans.referenced(session, purged_files=False)
    cutoff = time.time() - ORPHAN_GRACE.total_seconds()  # file times are epoch seconds
    counted = 0
    for directory, _dirs, names in os.walk(store.root):
        for name in names:
            if not _BLOB_NAME.fullmatch(name):
                continue
            counted += 1
            path = os.path.join(directory, name)
            if name not in referenced and os.stat(path).st_mtime < cutoff:
                found.fail("orphans", name, "存储对象没有任何档案记录引用（无主文件）")
    found.checked["orphans"] = f"核对存储中的 {counted} 个对象是否都有记录"


def _metadata(session, found: Findings) -> None:
    last, count = 0, 0
    while True:
        with work.unit(session):
            documents = session.execute(
                select(Document).where(Document.id > last,
                                       Document.status == DocumentStatus.ACTIVE.value)
                .options(selectinload(Document.files).load_only(StoredFile.pages))
                .order_by(Document.id).limit(500)).scalars().all()
            for document in documents:
                problems = preservation.metadata_problems(document)
                if problems:
                    found.fail("metadata", f"文件 {document.id}",
                               "；".join(problems), document_id=document.id)
                # The page count catalogued against the files', as the check at filing
                # does (a correction may have changed it since).
                _, outcome, reason = preservation.pages_agree(document, document.files)
                if outcome == FAIL:
                    found.fail("format", f"文件 {document.id}", reason, document_id=document.id)
                for stored in document.files:
                    session.expunge(stored)
                session.expunge(document)  # a large archive is read 500 at a time
        if not documents:
            break
        last, count = documents[-1].id, count + len(documents)
    found.checked["metadata"] = f"核对 {count} 份在档文件的必填著录项目"


def _index(session, search, found: Findings) -> None:
    from archive.services.search.service import IndexUnavailable

    try:
        indexed = set(search.document_ids())
    except IndexUnavailable as exc:
        found.fail("index", "检索索引", f"检索索引不可用：{exc}")
        found.checked["index"] = "检索索引不可用"
        return
    with work.unit(session):
        rows = session.execute(select(Document.id, Document.status, Document.needs_index)).all()
    status = {doc_id: state for doc_id, state, _flag in rows}
    waiting = {doc_id for doc_id, _state, flagged in rows if flagged}
    active = {doc_id for doc_id, state in status.items() if state == DocumentStatus.ACTIVE.value}
    for doc_id in sorted(active - indexed - waiting):
        found.fail("index", f"文件 {doc_id}", "在档文件不在检索索引中，检索不到",
                   document_id=doc_id)
    labels = {DocumentStatus.WITHDRAWN.value: "已撤销归档", DocumentStatus.PURGING.value: "已销毁",
              DocumentStatus.DESTROYED.value: "已销毁"}
    for doc_id in sorted(indexed - active):
        what = labels.get(status.get(doc_id), "在数据库中不存在")
        found.fail("index", f"文件 {doc_id}", f"检索索引中仍有{what}的文件",
                   document_id=doc_id if doc_id in status else None)
    found.checked["index"] = (f"核对检索索引（{len(indexed)} 份）与在档文件（{len(active)} 份）"
                              + (f"；{len(waiting)} 份待索引" if waiting else ""))


def _write(session, found: Findings, trigger: str, still_ours=None) -> PreservationRun | None:
    failures = sum(found.failed.values())
    summary = {item: {"checked": text, "failed": found.failed.get(item, 0)}
               for item, text in found.checked.items()}
    with work.unit(session):
        if still_ours is not None and not still_ours():
            return None
        run = PreservationRun(started_at=found.started_at, finished_at=now(), trigger=trigger,
                              outcome=FAIL if failures else PASS, failures=failures,
                              summary=json.dumps(summary, ensure_ascii=False))
        session.add(run)
        session.flush()
        for item, text in found.checked.items():
            failed = found.failed.get(item, 0)
            session.add(PreservationCheck(
                stage="storage", run_id=run.id, item=item, outcome=FAIL if failed else PASS,
                subject="全部", reason=f"{text}：{failed} 项未通过" if failed else f"{text}：全部通过",
                checked_at=run.finished_at))
        for row in found.rows:
            row.run_id = run.id
            session.add(row)
        session.flush()
    return run


# -- the report ---------------------------------------------------------------------

def list_runs(session, actor, *, page: int = 1,
              per_page: int = 100) -> tuple[int, list[PreservationRun]]:
    """(how many runs there are, one page of them, newest first), for the archive room and
    the auditors."""
    access.require(actor, "preservation.view")
    total = session.execute(select(func.count()).select_from(PreservationRun)).scalar_one()
    runs = session.execute(select(PreservationRun).order_by(PreservationRun.id.desc())
                           .limit(per_page).offset((max(1, page) - 1) * per_page)).scalars().all()
    return total, runs


def get_run(session, actor, run_id) -> PreservationRun:
    access.require(actor, "preservation.view")
    return get_or_404(session, PreservationRun, run_id, "检测报告不存在")


def items_of(run: PreservationRun) -> list[tuple[PreservationCheck, list[PreservationCheck]]]:
    """Each check item's summary row with its failing rows, in the order of ITEMS."""
    summaries = {c.item: c for c in run.checks if c.subject == "全部" and c.document_id is None
                 and c.file_id is None}
    details = defaultdict(list)
    for check in run.checks:
        if summaries.get(check.item) is not check:
            details[check.item].append(check)
    return [(summaries[code], details[code]) for code in preservation.ITEMS if code in summaries]


REPORT_COLUMNS = ("检测项目", "DA/T 70 属性", "DA/T 70 检测项", "结果", "对象", "说明")


def report_csv(run: PreservationRun) -> str:
    """The run's report, one line per summary and per failing item (UTF-8 with BOM for
    Excel)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([f"四性检测报告 第 {run.id} 次",
                     local(run.started_at).strftime("%Y-%m-%d %H:%M:%S"),
                     local(run.finished_at).strftime("%Y-%m-%d %H:%M:%S"),
                     preservation.OUTCOME_LABELS[run.outcome]])
    writer.writerow(REPORT_COLUMNS)
    for summary, failing in items_of(run):
        for check in (summary, *failing):
            item = preservation.ITEMS[check.item]
            writer.writerow([check.item, item.property_label, item.name,
                             preservation.OUTCOME_LABELS[check.outcome],
                             spreadsheets.cell(check.subject), spreadsheets.cell(check.reason)])
    return out.getvalue()


def alarm(session, actor) -> PreservationRun | None:
    """The newest run, if it found a failure and the actor keeps the archive: on the
    dashboard until a later run passes."""
    if not access.can(actor, "preservation.view"):
        return None
    newest = session.execute(select(PreservationRun).order_by(PreservationRun.id.desc())
                             .limit(1)).scalar_one_or_none()
    return newest if newest is not None and newest.outcome == FAIL else None
