"""撤销归档 (issue 18): withdrawing a mis-filed document (under the wrong customer, filed
twice). It leaves the volume index, the lists and search, and no loan takes it; its row
(the tombstone), its number, its files and its history stay. Not a destruction."""

import logging

from archive import clock
from archive.models import Document, Dossier, User
from archive.models.enums import DocumentStatus
from archive.services import access, audit, indexing, jobs, loans, validation, work
from archive.services.customers import get_or_404
from archive.services.errors import Conflict

log = logging.getLogger(__name__)


def withdraw_document(session, actor: User, document_id, data: dict) -> Document:
    """Withdraw a mis-filed document (撤销归档: under the wrong customer, filed twice): the
    archive room, with a reason. It leaves the volume index, the lists and search, and
    no loan takes it; its row (the tombstone), its number, its files and its history stay.
    Not a destruction: nothing is purged, and its number is never given again."""
    document = get_or_404(session, Document, document_id)
    access.require(actor, "document.view", document)
    access.require(actor, "document.withdraw", document, hide=False)
    if document.status != DocumentStatus.ACTIVE.value:
        raise Conflict("该文件已撤销归档或已销毁", code="not_active")
    reason = validation.text(data, "reason", "撤销原因", required=True, max_len=500)
    loans.not_out(session, [document.id],
                  message="原件借出中（借阅编号 {number}），归还后才能撤销归档")
    document.status = DocumentStatus.WITHDRAWN.value
    # Out of search and lists: reading its scans is work for no one.
    jobs.cancel_for_files(session, [f.id for f in document.files], jobs.WITHDRAWN)
    dossier, group, seq = document.dossier, document.group.code, document.seq
    note = (f"{clock.today().isoformat()} {group} 组第 {seq} 号文件撤销归档：{reason}"
            f"（{actor.display_name}）")
    dossier.remarks = f"{dossier.remarks}\n{note}" if dossier.remarks else note
    session.flush()
    audit.record(session, actor, "document.withdrawn", document, reason=reason,
                 dossier=dossier.number, group=group, seq=seq)
    work.after_commit(session, lambda: _unindex(document.id))
    return document


def _unindex(document_id: int) -> None:
    # Search answers only from active documents (finder), so an entry left behind by a
    # failed removal never shows; `flask reindex --if-needed` then drops it.
    try:
        indexing.remove(document_id)
    except Exception:
        log.exception("could not remove withdrawn document %s from the index", document_id)


def withdrawn(actor: User, dossier: Dossier) -> list[Document]:
    """The dossier's withdrawn documents the actor may see (their tombstones)."""
    return [d for d in dossier.documents if d.status == DocumentStatus.WITHDRAWN.value
            and access.can(actor, "document.view", d)]
