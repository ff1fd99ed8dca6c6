"""flask --app archive <command>: set-up, users, tokens, index and integrity checks."""

import json
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import select

from archive.clock import local, now
from archive.extensions import db
from archive.models import Department, Document, Level, Loan, LoanFile, StoredFile, User
from archive.services import accounts, audit, indexing, work
from archive.services.customers import find_department
from archive.services.errors import DomainError
from archive.services.orphans import PURGED


def destruction_journal(app: Flask) -> Path:
    from archive.services import backup

    return backup.journal_path(app.config["INSTANCE_DIR"])


@contextmanager
def _progress(label: str):
    """A progress bar whose total is learnt from the first report: progress(done, total)."""
    with click.progressbar(length=1, label=label) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)
        yield progress


def _fail(message: str, code: int = 1):
    click.echo(f"错误：{message}", err=True)
    sys.exit(code)


def _audit_key_note(key: str) -> str:
    """Whether this instance holds the audit key the restored archive's checkpoints need
    (the key travels apart from the backup: docs/audit.md)."""
    from archive.models import AuditCheckpoint
    from archive.services import audit_anchor

    needed = set(db.session.execute(select(AuditCheckpoint.key_id).distinct()).scalars())
    own = audit_anchor.key_id(key) if key else ""
    missing = needed - {own} - {audit_anchor.key_id(k) for k in audit_anchor.retired_keys()}
    if not missing:
        return f"审计密钥：{own}，与备份的审计检查点相符"
    return (f"注意：备份的审计检查点需要审计密钥 {'、'.join(sorted(missing))}，本实例的是 "
            f"{own or '（未设置）'}；请把与备份分开保管的 audit_key（轮换过密钥的，还有 "
            "audit_keyring）放回实例目录（或设置 AUDIT_KEY），否则 verify-audit 报告缺少密钥")


def _user_named(name: str) -> User:
    user = db.session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None:
        _fail(f"用户不存在：{name}")
    return user


def init_db() -> None:
    """Create or upgrade the schema and seed fixed tables (idempotent)."""
    from flask_migrate import upgrade

    upgrade()  # the migrations seed the retention schedule and the approval routes


def _restore_checkpoints(src: Path, instance: Path) -> None:
    """At a restore: the checkpoint file of an instance folder that outlived its database
    signs heads the backup may not reach (events after it are lost with the database), so
    it is kept under another name, whole; the backup's copy, as it stood at the snapshot,
    takes its place (docs/audit.md)."""
    from archive.services import audit_anchor

    path = instance / audit_anchor.FILE_NAME
    if path.exists():
        kept = path.with_name(f"{path.name}.before-restore-{now():%Y%m%dT%H%M%SZ}")
        path.rename(kept)
        click.echo(f"此前的审计检查点文件已另存为 {kept.name}：它签的是恢复前的审计链，"
                   "其中备份之后的检查点所指的事件已随原数据库丢失")
    copy = src / audit_anchor.FILE_NAME
    if copy.exists():
        instance.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        shutil.copyfile(copy, partial)
        partial.replace(path)
        click.echo("审计检查点文件已从备份恢复")


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the database schema (runs the migrations)."""
        init_db()
        click.echo("数据库已就绪")

    @app.cli.command("create-department")
    @click.argument("name")
    @click.option("--code", default="", help="short code (default: derived from the id)")
    def create_department_command(name, code):
        """Create a department (names are unique)."""
        name = name.strip()
        if not name or len(name) > 100:
            _fail("部门名称不能为空，且不超过 100 个字符")
        if db.session.execute(select(Department).where(Department.name == name)).first():
            _fail(f"部门已存在：{name}")
        with work.unit(db.session):
            department = Department(name=name, code=code.strip() or f"D{name}"[:20])
            db.session.add(department)
            db.session.flush()
            audit.record(db.session, None, "department.created", department, name=name)
        click.echo(f"已创建部门 {department.name}（id {department.id}，代码 {department.code}）")

    @app.cli.command("create-user")
    @click.argument("name")
    @click.option("--role", required=True, help="officer staff dept_head gm_office legal gm auditor admin")
    @click.option("--department", default="", help="department name, code or id")
    @click.option("--clearance", default="internal", help="公开 内部 秘密 机密 绝密 or their keys")
    @click.option("--display-name", default="")
    def create_user_command(name, role, department, clearance, display_name):
        """Create a user; the password is read from standard input."""
        password = sys.stdin.readline().rstrip("\n")
        try:
            level = Level.parse(clearance)
        except ValueError:
            _fail(f"未知密级：{clearance}")
        try:
            with work.unit(db.session):
                dept = find_department(db.session, department) if department else None
                user = accounts.create_user(
                    db.session, username=name, password=password, role=role,
                    department_id=dept.id if dept else None, clearance=level,
                    display_name=display_name)
        except DomainError as exc:
            _fail(exc.message)
        click.echo(f"已创建用户 {user.username}（{user.role}，{level.label}）")

    @app.cli.command("create-token")
    @click.argument("name")
    def create_token_command(name):
        """Create an API token for user NAME; the token is printed alone on the last line."""
        with work.unit(db.session):
            token = accounts.create_token(db.session, _user_named(name))
        click.echo(f"API token for {name} (shown once):")
        click.echo(token)

    @app.cli.command("deactivate-user")
    @click.argument("name")
    def deactivate_user_command(name):
        """Deactivate user NAME: no more logins; every session and API token ends now."""
        from archive.cli_admin import changed_warning

        user = _user_named(name)
        changed_warning(user, lambda: accounts.deactivate_user(db.session, user))
        click.echo(f"已停用用户 {name}，其全部会话和 API 令牌已失效")

    @app.cli.command("reindex")
    @click.option("--pending-only", is_flag=True, help="only documents flagged needs_index")
    @click.option("--if-needed", is_flag=True,
                  help="only if the index does not hold exactly the archive's documents")
    def reindex_command(pending_only, if_needed):
        """Rebuild the search index from the database into a new directory and swap it in."""
        if if_needed:
            count = indexing.rebuild_if_needed(db.session, progress=True)
            click.echo("索引完整，无需重建" if count is None else
                       f"索引已重建：{count} 份文件（后端：{current_app.config['SEARCH_BACKEND']}）")
            return
        if pending_only:
            ok = indexing.index_after_commit(db.session, [])
            click.echo("待索引文件已处理" if ok else "索引写入失败，文件仍标记为待索引")
            sys.exit(0 if ok else 1)
        count = indexing.rebuild(db.session, progress=True)
        click.echo(f"索引已重建：{count} 份文件（后端：{current_app.config['SEARCH_BACKEND']}）")

    @app.cli.command("convert")
    @click.option("--pending", is_flag=True, required=True,
                  help="make every PDF access copy waiting, and those of DOCX filed before")
    @click.option("--retry-failed", is_flag=True, help="try the failed conversions again")
    def convert_command(pending, retry_failed):
        """Make DOCX access copies (PDF, by LibreOffice) here and now: the conversions
        waiting, and the DOCX files filed before access copies existed."""
        from archive import worker
        from archive.models import Job
        from archive.services import conversion, jobs

        app = current_app._get_current_object()
        session = db.session
        with work.unit(session):
            added = conversion.queue_pending(session, retry_failed=retry_failed)
        worker.sweep(app)  # conversions a dead worker held
        waiting = session.execute(select(Job.id).where(
            Job.kind == jobs.DOCX_PDF, Job.state == "queued").order_by(Job.id)).scalars().all()
        session.commit()  # end the read
        click.echo(f"待转换 {len(waiting)} 个 Word 文件（其中 {len(added)} 个为早先归档或重试的文件）")
        states: dict[str | None, int] = {}
        with click.progressbar(waiting, label="生成 PDF 副本", file=sys.stderr) as bar:
            for job_id in bar:
                state = worker.run_job(app, job_id)
                states[state] = states.get(state, 0) + 1
        click.echo(f"完成 {states.get('done', 0)} 个，失败 {states.get('failed', 0)} 个，"
                   f"待重试 {states.get('queued', 0)} 个，由其他进程处理 {states.get(None, 0)} 个")
        sys.exit(1 if states.get("failed") or states.get("queued") else 0)

    @app.cli.command("verify-storage")
    def verify_storage_command():
        """Check that every stored file's blob exists and matches its SHA-256."""
        # A destroyed document's files were purged on purpose (its register row names
        # them): expected absent, not missing.
        digests = set(db.session.execute(
            select(StoredFile.sha256).join(Document, Document.id == StoredFile.document_id)
            .where(Document.status.not_in(PURGED))).scalars())
        gone = set(db.session.execute(
            select(StoredFile.sha256).join(Document, Document.id == StoredFile.document_id)
            .where(Document.status.in_(PURGED))).scalars()) - digests
        digests |= set(db.session.execute(select(LoanFile.sha256)).scalars())
        # DOCX access copies (services/conversion.py) are kept like the files they copy.
        digests |= set(db.session.execute(
            select(StoredFile.access_copy_sha256).join(Document, Document.id == StoredFile.document_id)
            .where(Document.status.not_in(PURGED), StoredFile.access_copy_sha256.is_not(None))
        ).scalars())
        problems = current_app.extensions["blob_store"].verify(digests)
        for p in problems:
            names = db.session.execute(
                select(StoredFile.document_id, StoredFile.original_name)
                .where((StoredFile.sha256 == p.sha256) | (StoredFile.access_copy_sha256 == p.sha256))
            ).all()
            scans = db.session.execute(
                select(Loan.number, LoanFile.original_name).join(Loan, Loan.id == LoanFile.loan_id)
                .where(LoanFile.sha256 == p.sha256)
            ).all()
            where = ", ".join([f"文件#{d}《{n}》" for d, n in names]
                              + [f"借阅 {number} 的扫描件《{n}》" for number, n in scans])
            label = "缺失" if p.problem == "missing" else "已损坏"
            click.echo(f"{label}: {p.sha256} ({where})")
        click.echo(f"检查了 {len(digests)} 个存储对象，问题 {len(problems)} 个"
                   + (f"；另有 {len(gone)} 个已按销毁清单清除" if gone else ""))
        sys.exit(1 if problems else 0)

    @app.cli.command("check-archive")
    def check_archive_command():
        """四性检测 in storage (DA/T 70): fixity of every blob, 顺序号 continuity, orphan
        blobs, required metadata, index against database; the report is kept (web page
        and CSV) and a failure stays on the officer's dashboard until a run passes."""
        from archive.services import preservation, preservation_storage

        with _progress("四性检测") as progress:
            run = preservation_storage.check_archive(
                db.session, current_app.extensions["blob_store"],
                current_app.extensions["search"], trigger="cli", progress=progress)
        for summary, failing in preservation_storage.items_of(run):
            item = preservation.ITEMS[summary.item]
            click.echo(f"[{preservation.OUTCOME_LABELS[summary.outcome]}] "
                       f"{item.property_label} · {item.name}：{summary.reason}")
            for check in failing:
                click.echo(f"    {check.subject}：{check.reason}")
        click.echo(f"检测报告第 {run.id} 次：" + ("全部通过" if run.outcome == "pass"
                                              else f"{run.failures} 项未通过"))
        sys.exit(0 if run.outcome == "pass" else 1)

    @app.cli.command("destruction-sweep")
    def destruction_sweep_command():
        """Finish destroyed items a crash left 待清除 (their blobs and index entries); on
        PostgreSQL, rewrite the table that held executed batches' text if not yet done."""
        from archive.services import destruction

        done = destruction.sweep(db.session, current_app.extensions["blob_store"])
        compacted = destruction.compact(db.session)
        problems = destruction.verify_register(db.session)
        db.session.commit()  # end the read
        click.echo(f"清除了 {done} 件待清除的文件")
        if compacted:
            click.echo(f"已重写数据库表，清除 {compacted} 批销毁留下的旧行")
        for problem in problems:
            click.echo(problem, err=True)
        sys.exit(1 if problems else 0)

    @app.cli.command("sweep-orphans")
    @click.option("--grace-minutes", type=click.IntRange(min=0), default=60, show_default=True,
                  help="spare blobs stored or reused more recently than this")
    def sweep_orphans_command(grace_minutes):
        """Remove stored blobs no row names (left by refused or rolled-back uploads)."""
        from archive.services import orphans

        removed = orphans.sweep(db.session, current_app.extensions["blob_store"],
                                grace_seconds=grace_minutes * 60)
        db.session.commit()  # end the read
        click.echo(f"清除了 {len(removed)} 个无引用的存储文件")

    @app.cli.command("backup")
    @click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
    def backup_command(dest):
        """Write a consistent backup to DEST (incremental: blobs already there are kept)."""
        from archive.services import audit_anchor, backup

        app = current_app._get_current_object()
        with _progress("备份存储文件") as progress:
            report = backup.backup(app.config["SQLALCHEMY_DATABASE_URI"],
                                   Path(app.config["STORAGE_DIR"]),
                                   destruction_journal(app), dest,
                                   checkpoints=audit_anchor.settings()[1], progress=progress)
        with work.unit(db.session):
            audit.record(db.session, None, "backup.taken", None, dest=str(dest),
                         copied=report.copied, kept=report.kept, problems=len(report.problems))
        for problem in report.problems:
            click.echo(problem, err=True)
        click.echo(f"备份完成：新复制 {report.copied} 个存储文件，已有 {report.kept} 个，"
                   f"清单 {report.files} 个文件" + ("" if report.ok else "；有问题，见上"))
        sys.exit(0 if report.ok else 1)

    @app.cli.command("verify-backup")
    @click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
    def verify_backup_command(src):
        """Check a backup without restoring it: every file's SHA-256 and the snapshot."""
        from archive.services import backup

        report = backup.verify(src)
        for problem in report.problems:
            click.echo(problem, err=True)
        click.echo(f"备份校验{'通过' if report.ok else '失败'}：{report.files} 个文件")
        sys.exit(0 if report.ok else 1)

    @app.cli.command("restore")
    @click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--journal", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="the destruction journal to re-apply (default: this instance's, "
                       "else the backup's)")
    def restore_command(src, journal):
        """Restore a backup into an empty instance; re-apply later destructions."""
        import flask_migrate
        from alembic.script import ScriptDirectory

        from archive.services import backup, destruction

        app = current_app._get_current_object()
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]
        db_path = None if backup.is_postgres(database_url) else backup.sqlite_path(database_url)
        if db_path is None or (db_path.exists() and db_path.stat().st_size > 0):
            has_users = False
            try:
                has_users = db.session.execute(select(User.id).limit(1)).first() is not None
            except Exception:  # noqa: BLE001 (no schema yet: empty)
                db.session.rollback()
            if has_users:
                _fail("恢复只能在空实例中进行：当前数据库已有数据")
        version = json.loads((src / "version.json").read_text(encoding="utf-8"))
        scripts = ScriptDirectory.from_config(
            app.extensions["migrate"].migrate.get_config())
        try:
            scripts.get_revision(version["schema_revision"])
        except Exception:  # noqa: BLE001 (an unknown revision)
            _fail(f"备份来自更新的版本（结构版本 {version['schema_revision']}），本版本不能恢复")
        db.session.remove()
        db.engine.dispose()
        with _progress("恢复存储文件") as progress:
            report = backup.restore_files(src, database_url, Path(app.config["STORAGE_DIR"]),
                                          progress=progress)
        if not report.ok:
            for problem in report.problems:
                click.echo(problem, err=True)
            _fail("备份校验失败，未恢复")
        _restore_checkpoints(src, Path(app.config["INSTANCE_DIR"]))
        flask_migrate.upgrade()  # an older backup's schema is brought up to date
        own = destruction_journal(app)
        entries = backup.journal_entries(journal or (own if own.exists()
                                                     else src / "destructions.jsonl"))
        store = app.extensions["blob_store"]
        reapplied = destruction.reapply(db.session, store, entries)
        with work.unit(db.session):
            audit.record(db.session, None, "backup.restored", None, src=str(src),
                         revision=version["schema_revision"], reapplied=reapplied)
        # The index from the database, and the write-ahead log checkpointed: the text of
        # what was destroyed again is in neither (secure_delete overwrote it); on
        # PostgreSQL the table is rewritten without the old rows that held it.
        destruction.scrub(db.session)
        destruction.compact(db.session)
        problems = destruction.verify_register(db.session)
        db.session.commit()
        for problem in problems:
            click.echo(problem, err=True)
        click.echo(f"恢复完成：{report.copied} 个存储文件，按销毁日志重放 {reapplied} 件销毁")
        click.echo(_audit_key_note(app.config["AUDIT_KEY"]))
        sys.exit(1 if problems else 0)

    @app.cli.command("verify-audit")
    @click.option("--full", is_flag=True, help="walk the whole chain from its first event "
                  "(default: from the last signed checkpoint)")
    def verify_audit_command(full):
        """Check the audit chain against its checkpoints signed with the audit key, walk
        it, and sign the verified head; exit 1 naming what is broken, 2 when the key
        that signed the checkpoints is missing (docs/audit.md)."""
        from archive.services import audit_anchor

        key, path = audit_anchor.settings()
        with work.unit(db.session):
            report = audit_anchor.verify(db.session, key, path, full=full,
                                         old_keys=audit_anchor.retired_keys())
        chain = report.chain
        since = (f"自检查点 #{report.start[0]} 起" if report.start else "自第一条起")
        if report.ok:
            signed = f"，已签名检查点 #{report.signed.seq}" if report.signed else ""
            click.echo(f"审计链完整：{since}校验 {chain.checked} 条事件，"
                       f"{report.valid} 个签名检查点相符（密钥 {report.key_id}）{signed}")
            return
        click.echo(f"审计链未通过校验：{report.message}", err=True)
        for problem in report.problems[1:]:
            click.echo(problem, err=True)
        if not chain.ok:
            click.echo(f"第一个有问题的事件：seq {chain.first_bad_seq}，id {chain.first_bad_id}；"
                       f"{since}此前 {chain.checked} 条完好", err=True)
        sys.exit(2 if report.missing_keys and not report.problems and chain.ok else 1)

    @app.cli.command("rotate-audit-key")
    def rotate_audit_key_command():
        """Move the audit chain to a new audit key: the chain is verified, the old key
        signs a hand-over naming the new key's id, the new key signs the same head, and
        the old key is kept in instance/audit_keyring (docs/audit.md). Restart the app
        afterwards: a process still holding the old key must not sign with it."""
        import os
        import secrets

        from archive.services import audit_anchor

        if os.environ.get("AUDIT_KEY"):
            _fail("审计密钥由环境变量 AUDIT_KEY 给出：本命令只轮换实例目录中的 audit_key"
                  "（改用文件，或在密钥库中换新密钥并把旧密钥写入 audit_keyring）")
        old, path = audit_anchor.settings()
        instance = Path(current_app.config["INSTANCE_DIR"])
        pending = instance / "audit_key.next"
        waiting = pending.read_text().strip() if pending.exists() else ""
        with work.unit(db.session):
            finishing = bool(waiting) and audit_anchor.handed_over(db.session, old, waiting)
        if finishing:
            # A run stopped after the hand-over, before the new key took the old one's
            # place: finish it (a pending key nothing names is simply made again below).
            pending.replace(instance / "audit_key")
            current_app.config["AUDIT_KEY"] = waiting
            click.echo(f"已完成中断的审计密钥轮换：新密钥 {audit_anchor.key_id(waiting)} "
                       "已就位，请重启应用与后台进程")
            return
        with work.unit(db.session):
            report = audit_anchor.verify(db.session, old, path, sign_head=False,
                                         old_keys=audit_anchor.retired_keys())
        if not report.ok:
            _fail(f"审计链未通过校验，不轮换密钥：{report.message}")
        # A run stopped before its hand-over resumes with the key it had made and named
        # in its event, rather than naming a second key that the first never signed for.
        new = waiting or secrets.token_hex(32)
        old_id, new_id = audit_anchor.key_id(old), audit_anchor.key_id(new)
        # The old key is kept before anything names the new one, and the new key is on
        # disk before anything it signs: a crash in between leaves both keys readable.
        audit_anchor.keep_retired(instance, old)
        if not waiting:
            audit_anchor.write_key(pending, new)
        with work.unit(db.session):
            if not audit_anchor.rotation_recorded(db.session, old_id, new_id):
                audit.record(db.session, None, "audit.key_rotated", None,
                             old_key_id=old_id, new_key_id=new_id)
        with work.unit(db.session):
            handover, _first = audit_anchor.hand_over(db.session, old, new, path)
        pending.replace(instance / "audit_key")
        current_app.config["AUDIT_KEY"] = new
        click.echo(f"审计密钥已轮换：旧密钥 {old_id} 在事件 #{handover.seq} 把审计链交接给新密钥 "
                   f"{new_id}。旧密钥已存入 {audit_anchor.KEYRING_NAME}（校验旧检查点需要它），"
                   "请与 audit_key 一起另行保管，并重启应用与后台进程")

    @app.cli.command("loans-overdue")
    def loans_overdue_command():
        """Print the loans out past their due date (for a daily cron job); exit 0."""
        from archive.services import loans

        rows = loans.overdue(db.session)
        for loan in rows:
            who = loan.borrower.display_name if loan.borrower else ""
            click.echo(f"{loan.number}\t{who}\t应还 {local(loan.due_at):%Y-%m-%d}\t"
                       f"逾期 {loans.days_overdue(loan)} 天")
        click.echo(f"逾期未还：{len(rows)} 笔")
        db.session.commit()  # end the read: outside a request it holds the write lock

    @app.cli.command("demo-data")
    @click.option("--if-empty", is_flag=True, help="do nothing when the archive already has users")
    def demo_data_command(if_empty):
        """Load the demo archive: departments, a user per role, customers, documents."""
        from archive import demo

        if if_empty and db.session.execute(select(User.id).limit(1)).first():
            click.echo("演示数据已存在，跳过")
            return
        demo.load(db.session, echo=click.echo)

    @app.cli.command("import")
    @click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--user", "username", required=True, help="the archive-room user filing the rows")
    @click.option("--manifest", default=None, help="the manifest's path inside FOLDER "
                  "(default: manifest.csv, manifest.xlsx, 清单.csv or 清单.xlsx)")
    @click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="write the per-row report (CSV) here")
    def import_command(folder, username, manifest, report):
        """Import FOLDER: a manifest (CSV or XLSX) and the files it names. A rerun of the
        same manifest resumes it: rows filed or skipped before are not filed again."""
        from archive.services import imports

        actor = _user_named(username)
        try:
            with work.unit(db.session):
                batch = imports.open_import(db.session, actor, folder, kind="folder",
                                            source=str(folder.resolve()), manifest=manifest)
        except DomainError as exc:
            _fail(exc.message)
        settings = imports.Settings.from_app(current_app)
        with click.progressbar(length=batch.rows_total, label="导入", file=sys.stderr) as bar:
            def progress(done, total):
                bar.update(done - bar.pos)

            batch = imports.run(db.session, actor, batch.id, folder, settings, progress=progress)
        if batch is None:
            _fail("这份清单正在由另一个进程导入")
        found = imports.counts(db.session, batch)
        if report is not None:
            report.write_text(imports.report_csv(batch), encoding="utf-8")
        for row in batch.rows:
            if row.state == "refused":
                click.echo(f"第 {row.row_number} 行拒收：{row.reason}", err=True)
        db.session.commit()  # end the read
        if batch.state == "failed":
            _fail(f"导入 #{batch.id} 失败：{batch.error}")
        click.echo(f"导入 #{batch.id}：归档 {found['filed']} 行，跳过（已归档）{found['skipped']} 行，"
                   f"拒收 {found['refused']} 行")
