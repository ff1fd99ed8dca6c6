"""The dashboard."""

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from archive.extensions import db
from archive.models import Customer, Document, Dossier, Role, StoredFile
from archive.services import access, approvals, indexing, jobs, loan_lists, preservation_storage

bp = Blueprint("main", __name__)

# Who is warned when storage runs low: the archive officers, whose uploads it refuses,
# and the administrators, who can free or add space.
STORAGE_WATCHERS = (Role.OFFICER, Role.ADMIN)
# How many entries of each list the 我的待办 panel shows (the pages list them all).
TODO_SHOWN = 5


def _storage_alarm():
    if current_user.role not in STORAGE_WATCHERS:
        return None
    config = current_app.config
    return current_app.extensions["blob_store"].alarm(
        min_free_bytes=config["STORAGE_MIN_FREE_MB"] * 2**20,
        min_free_percent=config["STORAGE_MIN_FREE_PERCENT"])


def _ocr_status() -> dict | None:
    """For the archive room: OCR jobs waiting, running and failed, and the documents of
    the newest failures the user may see."""
    if current_user.role not in STORAGE_WATCHERS:
        return None
    counts = jobs.counts(db.session)
    if not any(counts.values()):
        return None
    failed = jobs.recent_failures(db.session, limit=40)
    visible = {d.id for d in access.visible_documents(current_user, [j.file.document for j in failed])}
    return {**counts, "failures": [j for j in failed if j.file.document_id in visible][:10]}


def _index_status() -> dict | None:
    """What the dashboard says of the search index: being rebuilt (everyone searches),
    or, for the archive room, documents still waiting to be indexed. Finding either
    starts the repair."""
    app = current_app._get_current_object()
    if indexing.repairing(app):
        return {"repairing": True}
    broken = indexing.unavailable_reason(db.session)
    waiting = indexing.waiting(db.session)
    if not (broken or waiting):
        return None
    indexing.repair_in_background(app)
    if broken:
        return {"repairing": True}
    return {"waiting": waiting} if current_user.role in STORAGE_WATCHERS else None


def _todo(user) -> dict:
    """我的待办, the notification (there is no e-mail): the decisions waiting for the user
    (one inbox query), the user's requests still waiting, the counter's overdue loans and
    the user's loans due soon (one query each). Transfers due will join them."""
    waiting = approvals.inbox(db.session, user)
    return {"decisions": waiting[:TODO_SHOWN], "n_decisions": len(waiting),
            "requests": approvals.mine(db.session, user, TODO_SHOWN, pending=True),
            # 借阅到期: the counter's overdue loans, and the user's own due soon or overdue
            "overdue": loan_lists.overdue_for_counter(db.session, user, TODO_SHOWN),
            "due": loan_lists.due_for_borrower(db.session, user, TODO_SHOWN)}


def _with_files(condition, shown: int = 10) -> list[Document]:
    """The newest documents the user may see with a file meeting `condition`."""
    found = db.session.execute(
        select(Document).join(StoredFile).where(condition).distinct()
        .order_by(Document.id.desc()).limit(4 * shown)
    ).scalars().all()
    return access.visible_documents(current_user, found)[:shown]


@bp.get("/")
@login_required
def dashboard():
    scope = access.customer_filter(current_user)
    customers = select(Customer.id).where(Customer.merged_into_id.is_(None))
    if scope is not None:
        customers = customers.where(scope)
    customer_ids = customers.subquery()
    n_customers = db.session.execute(select(func.count()).select_from(customer_ids)).scalar_one()
    # Only dossiers the user may open: a count of hidden ones would tell they exist.
    dossiers = select(Dossier.id)
    opens = access.dossier_filter(current_user)
    if opens is not None:
        dossiers = dossiers.where(opens)
    n_dossiers = db.session.execute(
        select(func.count()).select_from(dossiers.subquery())).scalar_one()
    recent = db.session.execute(
        select(Document).join(Dossier).where(Dossier.customer_id.in_(select(customer_ids)))
        .order_by(Document.id.desc()).limit(40)
    ).scalars().all()
    recent = access.visible_documents(current_user, recent)[:10]
    return render_template("main/dashboard.html", n_customers=n_customers,
                           n_dossiers=n_dossiers, recent=recent,
                           problems=_with_files(StoredFile.text_status == "failed"),
                           # Scans whose words no search finds (no text layer, none read by OCR).
                           scans=_with_files(StoredFile.text_status == "empty"),
                           storage_alarm=_storage_alarm(), index_status=_index_status(),
                           ocr_status=_ocr_status(),
                           preservation_alarm=preservation_storage.alarm(db.session,
                                                                         current_user),
                           todo=_todo(current_user._get_current_object()))
