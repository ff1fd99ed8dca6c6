"""Dossier page, its printable 卷内目录 / 备考表 / cover, uploads and references."""

import secrets

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from archive.extensions import db
from archive.services import access, customers, filing, validation, work
from archive.services.errors import DomainError

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers")


def _page(template: str, dossier_id: int, **extra):
    with work.unit(db.session):  # the view's audit event, committed before the page renders
        dossier = customers.get_dossier(db.session, current_user, dossier_id)
    customers.load_contents(db.session, dossier)
    return render_template(
        template, dossier=dossier, groups=filing.volume_index(current_user, dossier),
        sheet=filing.remarks_sheet(current_user, dossier),
        refs=customers.references(db.session, current_user, dossier),
        may_upload=access.can(current_user, "document.upload", dossier), **extra,
    )


@bp.get("/<int:dossier_id>")
@login_required
def show(dossier_id: int):
    from archive.web.classification import level_context

    dossier = customers.get_dossier(db.session, current_user, dossier_id, record=False,
                                    page=True)
    renumberable = customers.needs_renumbering(dossier,
                                               current_app.config["DOSSIER_NUMBER_FORMAT"])
    return _page("dossiers/show.html", dossier_id, renumberable=renumberable,
                 **level_context(dossier))


def _printed(template: str, dossier_id: int):
    """A printed form of the dossier: the archive room's, at the dossier's true level."""
    dossier = customers.get_dossier(db.session, current_user, dossier_id, record=False)
    access.require(current_user, "dossier.print", dossier, hide=False)
    # The archive's printed forms are Chinese in both UIs.
    with force_locale("zh_CN"):
        return _page(template, dossier_id, printed_level=access.true_level(dossier),
                     page_ranges=filing.page_ranges(filing.volume_index(current_user, dossier)))


@bp.get("/<int:dossier_id>/index")
@login_required
def volume_index(dossier_id: int):
    return _printed("dossiers/volume_index.html", dossier_id)


@bp.get("/<int:dossier_id>/remarks")
@login_required
def remarks(dossier_id: int):
    return _printed("dossiers/remarks.html", dossier_id)


@bp.get("/<int:dossier_id>/cover")
@login_required
def cover(dossier_id: int):
    return _printed("dossiers/cover.html", dossier_id)


@bp.route("/<int:dossier_id>/upload", methods=["GET", "POST"])
@login_required
def upload(dossier_id: int):
    dossier = customers.get_dossier(db.session, current_user, dossier_id, record=False)
    access.require(current_user, "document.upload", dossier, hide=False)
    if request.method == "POST":
        try:
            uploads = [filing.Upload(name, data) for name, data in validation.file_parts(
                request.form, request.files.getlist("file"), keep_empty=False)]
            # The checks only read: their unit ends the transaction (and SQLite's write
            # lock) before the files are read, which takes seconds for a large PDF.
            with work.unit(db.session):
                intake = filing.preflight(
                    db.session, current_user, dossier.id, request.form.to_dict(), uploads,
                    key=request.form.get("upload_key") or None, warn_duplicates=True,
                    limits=filing.Limits.from_config(current_app.config))
            filing.read_files(intake)
            with work.unit(db.session):
                document, replayed = filing.file_intake(
                    db.session, intake, store=current_app.extensions["blob_store"],
                    batched=True)
                filed = {"group": document.group.code, "seq": document.seq,
                         "title": document.title}
        except DomainError as exc:
            flash(exc.message, "error")
            filed = exc.details.get("existing") if exc.code == "duplicate_file" else None
            return render_template("dossiers/upload.html", dossier=dossier,
                                   form=request.form, duplicate_files=filed), exc.status
        if not access.can(current_user, "numbering.view"):
            flash(_("此表单已提交过，文件已归档，未重复归档：%(group)s 组《%(title)s》", **filed)
                  if replayed else _("已归档：%(group)s 组《%(title)s》", **filed), "info")
        elif replayed:
            flash(_("此表单已提交过，文件已归档，未重复归档：%(group)s 组第 %(seq)s 号《%(title)s》",
                    **filed), "info")
        else:
            flash(_("已归档：%(group)s 组第 %(seq)s 号《%(title)s》", **filed), "info")
        return redirect(url_for("dossiers.show", dossier_id=dossier.id))
    # One key per form: submitting it twice (a reload, a double click, a retry after a
    # dropped connection) files the document once.
    return render_template("dossiers/upload.html", dossier=dossier,
                           form={"upload_key": secrets.token_urlsafe(16)})


@bp.post("/<int:dossier_id>/renumber")
@login_required
def renumber(dossier_id: int):
    """The archive room gives a dossier its number in today's form (old one in 备考)."""
    dossier = customers.get_dossier(db.session, current_user, dossier_id, record=False)
    access.require(current_user, "dossier.correct", dossier, hide=False)
    try:
        with work.unit(db.session):
            old, new = customers.renumber_dossier(
                db.session, current_user, dossier_id,
                number_format=current_app.config["DOSSIER_NUMBER_FORMAT"])
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("dossiers.show", dossier_id=dossier_id))
    flash(_("已重新编号：%(old)s → %(new)s（原档案号记入备考表）", old=old, new=new), "info")
    return redirect(url_for("dossiers.show", dossier_id=dossier_id))


@bp.post("/<int:dossier_id>/references")
@login_required
def add_reference(dossier_id: int):
    # Refusals answer 404/403 like every other route; only form errors go back as a flash.
    dossier = customers.get_dossier(db.session, current_user, dossier_id, record=False)
    access.require(current_user, "document.upload", dossier, hide=False)
    try:
        with work.unit(db.session):
            customers.add_reference(db.session, current_user, dossier_id, request.form.to_dict())
        flash(_("已建立参照"), "info")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("dossiers.show", dossier_id=dossier_id))
