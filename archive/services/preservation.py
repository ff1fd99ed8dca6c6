"""四性检测 (DA/T 70-2018): the checks each file and document gets at filing and at a
transfer receipt, and what they found.

DA/T 70 asks of an electronic record that it be authentic (真实性), complete (完整性),
usable (可用性) and secure (安全性), checked at filing, at transfer and periodically in
storage (`preservation_storage`). The checks record; they refuse nothing that filing
accepts (its own refusals, in `filetypes`, come first). Each result names one item of
`ITEMS` and says pass, fail, not applicable or not run, with the reason in Chinese.

The checks at filing reuse what filing has already learnt (the type from the content,
the page count and text layer from extraction); they read the stored blob once more, to
prove the copy kept is the copy received.
"""

import functools
import io
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, func, insert, select

from archive.clock import local, now, today
from archive.models import Document, PreservationCheck, StoredFile
from archive.models.enums import CARRIERS, CASE_GROUP, CATEGORIES, GROUPS, Level
from archive.models.preservation import Outcome
from archive.services import filetypes, retention, work
from archive.services.errors import DomainError

PASS, FAIL, NA, NOT_RUN = (Outcome.PASS.value, Outcome.FAIL.value,
                           Outcome.NOT_APPLICABLE.value, Outcome.NOT_RUN.value)

# DA/T 70's four properties.
PROPERTIES = {"authenticity": "真实性", "integrity": "完整性", "usability": "可用性",
              "security": "安全性"}


@dataclass(frozen=True)
class Item:
    """One check item: the property of DA/T 70 it serves and the standard's item it covers."""

    property: str  # a key of PROPERTIES
    name: str  # DA/T 70's item, in its words

    @property
    def property_label(self) -> str:
        return PROPERTIES[self.property]


ITEMS = {
    "fixity": Item("authenticity", "固化信息有效性检测（SHA-256 摘要）"),
    "format": Item("authenticity", "内容数据的电子属性一致性检测（格式与著录）"),
    "metadata": Item("integrity", "元数据必填著录项目与格式检测（档号、日期、密级）"),
    "continuity": Item("integrity", "连续性元数据项检测（件号/顺序号）"),
    "orphans": Item("authenticity", "元数据与内容数据关联检测（无主存储对象）"),
    "encryption": Item("usability", "加密与非公开压缩算法检测"),
    "readable": Item("usability", "内容数据可读性检测（可打开、页数、文字层）"),
    "index": Item("usability", "元数据可访问性检测（检索索引与数据库一致）"),
    "virus": Item("security", "病毒感染检测（ClamAV）"),
}
FILE_ITEMS = ("fixity", "format", "encryption", "readable", "virus")
OUTCOME_LABELS = {o.value: o.label for o in Outcome}
# The earliest document date that is not a slip of the keyboard.
EARLIEST_DATE = date(1900, 1, 1)
CLAMDSCAN_SECONDS = 120


def item(code: str) -> Item:
    return ITEMS[code]


# -- one file -------------------------------------------------------------------------

def check_file(stored: StoredFile, data: bytes | None, store, *,
               type_known: bool = False) -> list[tuple[str, str, str]]:
    """(item, outcome, reason) for one stored file. `data` is the bytes as received (at
    filing) or None (read from the store, verified, as at a transfer receipt).
    `type_known`: filing found the type from these bytes a moment ago."""
    problems = store.verify({stored.sha256})
    if problems:
        what = "缺失" if problems[0].problem == "missing" else "与 SHA-256 摘要不符（已损坏）"
        gone = "存储副本" + what
        return [("fixity", FAIL, gone), *((code, NOT_RUN, f"{gone}，无法检测")
                                          for code in FILE_ITEMS[1:])]
    if data is None:
        data = store.get(stored.sha256)
    results = [("fixity", PASS, f"SHA-256 {stored.sha256[:16]}… 已记录，存储副本重读核对一致")]
    results.append(_format(stored, data, type_known))
    results.append(_encryption(stored, data))
    results.append(_readable(stored, data))
    results.append(virus_scan(data))
    return results


def type_mismatch(stored: StoredFile, data: bytes) -> str | None:
    """Why the bytes are not the type the archive recorded for them (by content, and
    against the file name's extension), or None if they are."""
    try:
        found = filetypes.inspect(data, stored.original_name, max_bytes=len(data) + 1,
                                  max_docx_uncompressed=2**62)
    except DomainError as exc:
        return exc.message
    if found.kind != stored.kind:
        return (f"记录为{filetypes.kind_name(stored.kind)}，内容却是"
                f"{filetypes.kind_name(found.kind)}")
    return None


def _format(stored: StoredFile, data: bytes, type_known: bool) -> tuple[str, str, str]:
    name = filetypes.kind_name(stored.kind)
    wrong = None if type_known else type_mismatch(stored, data)
    if wrong:
        return "format", FAIL, wrong
    extension = os.path.splitext(stored.original_name)[1].lower()
    said = f"扩展名 {extension} 与内容一致（{name}）" if extension else f"按内容识别为{name}"
    return "format", PASS, said


def _encryption(stored: StoredFile, data: bytes) -> tuple[str, str, str]:
    if stored.kind == "pdf":
        if b"/Encrypt" in data:
            # Filing refuses a PDF that needs a password to open; one with only an owner
            # password opens, but its encryption may lock copying and printing for good.
            return "encryption", FAIL, "PDF 文件已加密（设有权限密码），长期保存应为未加密文件"
        return "encryption", PASS, "PDF 未加密"
    if stored.kind == "docx":
        try:
            members = zipfile.ZipFile(io.BytesIO(data)).infolist()
        except (zipfile.BadZipFile, ValueError, EOFError):
            return "encryption", NOT_RUN, "Word 文件结构无法读取"
        if any(m.flag_bits & 0x1 for m in members):
            return "encryption", FAIL, "Word 文件中有加密的部件"
        odd = sorted({m.compress_type for m in members}
                     - {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
        if odd:
            return "encryption", FAIL, f"Word 文件使用了非通用压缩算法（{odd}）"
        return "encryption", PASS, "Word 文件未加密，压缩算法为公开的 Deflate"
    if stored.kind in ("audio", "video"):
        return "encryption", NOT_RUN, "音视频的编码未检测"
    return "encryption", PASS, f"{filetypes.kind_name(stored.kind)}为公开格式，无加密"


def _readable(stored: StoredFile, data: bytes) -> tuple[str, str, str]:
    pages = f"{stored.pages} 页" if stored.pages else "页数未知"
    if stored.text_status == "failed":
        return "readable", FAIL, stored.text_error or "文件无法解析"
    if stored.kind in ("jpeg", "png", "tiff"):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:  # the header only, no pixels
                width, height = image.size
        except Exception:  # noqa: BLE001 - any decoder failure means unreadable
            return "readable", FAIL, "图像无法打开"
        return "readable", PASS, f"图像可打开：{width} × {height} 像素，{pages}"
    if stored.kind in ("audio", "video"):
        return "readable", NOT_RUN, "音视频未解码检查"
    if stored.text_status == "empty":
        layer = "无文字层（扫描件）"
    elif stored.text_source == "ocr":
        layer = "文字由 OCR 识别"
    else:
        layer = "有文字层"
    return "readable", PASS, f"可打开：{pages}，{layer}"


def clamdscan_path() -> str | None:
    """The ClamAV client, where an operator installed it (the archive never installs it:
    its signatures need a download)."""
    return shutil.which("clamdscan")


def virus_scan(data: bytes) -> tuple[str, str, str]:
    """ClamAV's verdict on `data` through the clamd daemon; "not run" without it."""
    client = clamdscan_path()
    if client is None:
        return "virus", NOT_RUN, "ClamAV 未安装"
    try:
        done = subprocess.run([client, "--no-summary", "--stream", "-"], input=data,
                              capture_output=True, timeout=CLAMDSCAN_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "virus", NOT_RUN, f"ClamAV 未能运行：{type(exc).__name__}"
    if done.returncode == 0:
        return "virus", PASS, "ClamAV 未发现病毒"
    if done.returncode == 1:
        found = done.stdout.decode("utf-8", "replace").strip()[-200:]
        return "virus", FAIL, f"ClamAV 发现病毒：{found}"
    detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-200:]
    return "virus", NOT_RUN, f"ClamAV 未能检测（病毒库或 clamd 不可用）：{detail}"


# -- one document ---------------------------------------------------------------------

def metadata_problems(document: Document) -> list[str]:
    """What is missing or malformed in the required catalogue data of `document`:
    题名, 类别, 载体, 密级, 保管期限, 档号 (档案号-组-顺序号) and the date, if given."""
    problems = []
    if not (document.title or "").strip():
        problems.append("缺少题名")
    if document.category not in CATEGORIES:
        problems.append(f"类别不在分类表中：{document.category or '空'}")
    if document.carrier not in CARRIERS:
        problems.append(f"载体不合规范：{document.carrier or '空'}")
    if document.classification not in {int(level) for level in Level}:
        problems.append(f"密级不合规范：{document.classification}")
    try:
        retention.parse_period(document.retention)
    except DomainError:
        problems.append(f"保管期限不合规范：{document.retention or '空'}")
    problems += _code_problems(document)
    if document.doc_date is not None and not EARLIEST_DATE <= document.doc_date <= today():
        problems.append(f"文件日期不合理：{document.doc_date.isoformat()}")
    if document.pages is not None and document.pages < 0:
        problems.append(f"页数为负数：{document.pages}")
    return problems


def _code_problems(document: Document) -> list[str]:
    """档号 (DA/T 13): the dossier's number, the group and the sequence number."""
    number = document.dossier.number or ""
    group = document.group
    if not number.strip() or number != number.strip() or not number.isprintable():
        return [f"档号中的档案号不合规范：{number!r}"]
    if group.code not in GROUPS and group.code != CASE_GROUP:
        return [f"档号中的分组不合规范：{group.code}"]
    if not 1 <= document.seq <= group.last_seq:
        return [f"顺序号 {document.seq} 超出分组已编号范围（1–{group.last_seq}）"]
    return []


def pages_agree(document: Document, files: list[StoredFile]) -> tuple[str, str, str]:
    counted = [f.pages for f in files if f.pages]
    if not files:
        return "format", NA, "仅有纸质原件，无电子文件"
    if document.pages is None or len(counted) < len(files):
        return "format", PASS, "著录的格式与内容一致（页数未著录或无法计数）"
    if sum(counted) != document.pages:
        return "format", FAIL, f"著录页数 {document.pages} 与电子文件页数 {sum(counted)} 不符"
    return "format", PASS, f"著录页数与电子文件页数一致（{document.pages} 页）"


def check_document(document: Document) -> list[tuple[str, str, str]]:
    """(item, outcome, reason) for the document's own catalogue data."""
    problems = metadata_problems(document)
    results = [("metadata", FAIL, "；".join(problems)[:500]) if problems else
               ("metadata", PASS, "必填著录项目齐全，档号、日期、密级格式正确")]
    results.append(pages_agree(document, document.files))
    return results


def _rows(results, stage: str, document: Document, stored: StoredFile | None = None,
          batch_id: int | None = None) -> list[PreservationCheck]:
    moment = now()
    return [PreservationCheck(stage=stage, batch_id=batch_id, document_id=document.id,
                              file_id=stored.id if stored else None, item=code,
                              outcome=outcome, reason=reason[:500], checked_at=moment)
            for code, outcome, reason in results]


def failed(results: list[tuple[str, str, str]] | None) -> bool:
    """Whether checks run elsewhere (an import's reader) found a file wanting: filing runs
    them again on the copy it files (the blob may have been stored again meanwhile)."""
    return bool(results) and any(outcome == FAIL for _, outcome, _ in results)


def record_filing(session, document: Document, files: list[tuple[StoredFile, bytes]],
                  store, *, checked: list | None = None) -> None:
    """The checks at filing, in the filing's transaction (after its flush): each file's
    and the document's. The bytes are those received; the store is read once more.
    `checked`: per file, its checks already run on the stored copy by whoever stored it
    (an import's reading process, `check_stored`), or None to run them here."""
    moment = now()
    rows = [(None, result) for result in check_document(document)]
    for i, (stored, data) in enumerate(files):
        done = checked[i] if checked else None
        if done is None:
            done = check_file(stored, data, store, type_known=True)
        rows += [(stored.id, result) for result in done]
    # One INSERT for the lot, as records that nothing in the filing reads back: the ORM
    # would flush them one by one, seven statements a file (docs/import.md).
    session.execute(insert(PreservationCheck.__table__), [
        {"stage": "filing", "document_id": document.id, "file_id": file_id, "item": code,
         "outcome": outcome, "reason": reason[:500], "checked_at": moment}
        for file_id, (code, outcome, reason) in rows])


def record_batch(session, documents: list[Document], store, *, stage: str,
                 batch_id: int | None) -> dict:
    """The same checks on documents already filed (a transfer receipt): each file read
    back from the store. Returns the batch's summary (see `summary`)."""
    rows = []
    for document in documents:
        rows += _rows(check_document(document), stage, document, batch_id=batch_id)
        for stored in document.files:
            rows += _rows(check_file(stored, None, store), stage, document, stored,
                          batch_id=batch_id)
    session.add_all(rows)
    session.flush()
    return summary(rows)


def record_receipt(session, batch, documents: list[Document]) -> dict:
    """The checks of a transfer receipt on the documents received (移交接收环节), in the
    receipt's transaction; the summary the receipt carries."""
    from flask import current_app

    return record_batch(session, documents, current_app.extensions["blob_store"],
                        stage="transfer", batch_id=batch.id)


def summary(rows: list[PreservationCheck]) -> dict:
    """Counts per outcome and the failing items, in words, for a receipt or a report."""
    counts = dict.fromkeys(OUTCOME_LABELS, 0)
    failing = []
    for row in rows:
        counts[row.outcome] += 1
        if row.outcome == FAIL:
            failing.append({"document_id": row.document_id, "file_id": row.file_id,
                            "item": row.item, "item_name": ITEMS[row.item].name,
                            "reason": row.reason})
    return {"counts": counts, "failing": failing}


def of_batch(session, batch_id: int) -> dict | None:
    """The summary of a transfer receipt's checks, or None if none ran."""
    rows = session.execute(select(PreservationCheck).where(
        PreservationCheck.batch_id == batch_id).order_by(PreservationCheck.id)).scalars().all()
    return summary(rows) if rows else None


def of_import(session, batch) -> dict | None:
    """The summary of the checks at filing of the documents an import filed, or None.
    (An import files through filing's steps, so its documents were checked there.)"""
    from archive.models.imports import ImportRow, RowState

    filed = select(ImportRow.document_id).where(ImportRow.import_id == batch.id,
                                                ImportRow.state == RowState.FILED.value)
    rows = session.execute(select(PreservationCheck).where(
        PreservationCheck.document_id.in_(filed),
        PreservationCheck.stage == "filing").order_by(PreservationCheck.id)).scalars().all()
    return summary(rows) if rows else None


@dataclass
class Result:
    """One row as a page or the API shows it."""

    item: str
    property: str
    name: str
    outcome: str
    outcome_label: str
    reason: str
    file_id: int | None
    stage: str
    checked_at: object

    def as_json(self) -> dict:
        return {"item": self.item, "property": self.property, "item_name": self.name,
                "outcome": self.outcome, "reason": self.reason, "file_id": self.file_id,
                "stage": self.stage, "checked_at": local(self.checked_at).isoformat()}


@functools.cache
def _newest_checks():
    """The newest check of each item of a document and of each of its files (the storage
    checks aside). Built once: every document page asks it."""
    newest = select(func.max(PreservationCheck.id)).where(
        PreservationCheck.document_id == bindparam("document"),
        PreservationCheck.stage != "storage").group_by(
        PreservationCheck.file_id, PreservationCheck.item)
    return (select(PreservationCheck.item, PreservationCheck.outcome, PreservationCheck.reason,
                   PreservationCheck.file_id, PreservationCheck.stage,
                   PreservationCheck.checked_at)
            .where(PreservationCheck.id.in_(newest))
            .order_by(PreservationCheck.file_id.is_not(None), PreservationCheck.file_id,
                      PreservationCheck.id))


def latest_for(session, document: Document) -> list[Result]:
    """The newest result of each check item of the document and each of its files (a
    receipt's re-check replaces the filing's in this view; both stay on record)."""
    rows = work.rows(session, _newest_checks(), {"document": document.id}).all()
    return [Result(item=r.item, property=ITEMS[r.item].property_label,
                   name=ITEMS[r.item].name, outcome=r.outcome,
                   outcome_label=OUTCOME_LABELS[r.outcome], reason=r.reason,
                   file_id=r.file_id, stage=r.stage, checked_at=r.checked_at)
            for r in rows]
