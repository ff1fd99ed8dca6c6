"""Backup, verification and restore of the archive (issue 21, docs/backup.md).

A backup folder holds:
- the database, a consistent snapshot taken while the app keeps serving: on SQLite
  `database/archive.db` by the online backup API; on PostgreSQL `database/archive.dump`,
  pg_dump's custom format, with `database/facts.json` read in the very snapshot pg_dump
  took (schema revision, counts, the blobs it refers to), since a dump cannot be queried;
- `blobs/aa/bb/<sha256>`: every blob, copied only when not already there (content
  addressing makes an incremental backup exact) and verified after the copy;
- `destructions.jsonl`: the destruction journal as it stood (see below);
- `audit_checkpoints.jsonl`: the audit chain's signed checkpoints as they stood at the
  snapshot (docs/audit.md), which a restore puts back into the instance folder;
- `manifest.json`: the SHA-256 of every file of the backup; `version.json`: the release,
  the schema revision, counts and the time taken.
The search index is not copied: it is a cache of the database, rebuilt after a restore.

A restore goes into an empty instance, verifies every hash first, refuses a snapshot of a
newer schema, upgrades an older one, and re-applies every destruction the journal records
that the snapshot does not know: a restore never resurrects destroyed content. The journal
(`INSTANCE_DIR/destructions.jsonl`, one line per register row, appended after each
tombstone commits) is kept beside the database, outside it, and travels with the backups.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from archive.clock import now
from archive.services import audit_anchor

RELEASE = "1.0"
SEAL = "manifest.json.sha256"
CHECKPOINTS = audit_anchor.FILE_NAME  # under the name it has in the instance folder
CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_blob(path: Path) -> bool:
    name = path.name
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    copied: int = 0
    kept: int = 0
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _snapshot(db_path: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while writers go on."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    partial.replace(target)


def _facts(db_file: Path) -> dict:
    con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return _read_facts(lambda sql: con.execute(sql).fetchall())
    finally:
        con.close()


def _read_facts(query) -> dict:
    """What a snapshot says of itself, through `query(sql) -> rows` on either engine."""
    revision = query("SELECT version_num FROM alembic_version")[0][0]
    counts = {table: query(f"SELECT count(*) FROM {table}")[0][0]
              for table in ("documents", "stored_files", "audit_events",
                            "destruction_register")}
    referenced = {row[0] for row in query(
        "SELECT f.sha256 FROM stored_files f JOIN documents d ON d.id = f.document_id "
        "WHERE d.status NOT IN ('purging', 'destroyed') "
        "UNION SELECT sha256 FROM loan_files")}
    if revision_at_least(query, "a18d0c0de018"):  # a DOCX's PDF access copy, since then
        referenced |= {row[0] for row in query(
            "SELECT f.access_copy_sha256 FROM stored_files f "
            "JOIN documents d ON d.id = f.document_id "
            "WHERE f.access_copy_sha256 IS NOT NULL "
            "AND d.status NOT IN ('purging', 'destroyed')")}
    registered = {row[0] for row in query("SELECT id FROM destruction_register")}
    checkpoints = ({row[0] for row in query("SELECT signature FROM audit_checkpoints")}
                   if revision_at_least(query, "a21a0c0de021") else set())
    return {"revision": revision, "counts": counts, "referenced": referenced,
            "registered": registered, "checkpoints": checkpoints}


def revision_at_least(query, revision: str) -> bool:
    """Whether the snapshot's schema includes migration `revision` (an older backup's
    tables lack what later releases added)."""
    from alembic.script import ScriptDirectory

    current = query("SELECT version_num FROM alembic_version")[0][0]
    scripts = ScriptDirectory(str(Path(__file__).resolve().parents[2] / "migrations"))
    try:
        return any(script.revision == revision
                   for script in scripts.iterate_revisions(current, "base"))
    except Exception:  # noqa: BLE001 - a revision this release does not know: newer
        return True


def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def sqlite_path(database_url: str) -> Path:
    return Path(make_url(database_url).database)


def _libpq(database_url: str) -> tuple[str, dict]:
    """The URL as pg_dump and pg_restore take it, and their environment: the password goes
    in PGPASSWORD, never on a command line others can read."""
    url = make_url(database_url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    """pg_dump or pg_restore: on the PATH, else the newest Debian's postgresql installed."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                      key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not versions:
        raise RuntimeError(f"找不到 {name}（请安装 postgresql-client）")
    return str(versions[-1])


def _pg_snapshot(database_url: str, target: Path) -> dict:
    """pg_dump (custom format) of the snapshot a transaction of ours exports, and the facts
    read in that same transaction: both describe exactly one state, writers going on."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    libpq_url, env = _libpq(database_url)
    try:
        with engine.connect().execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn:
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            facts = _read_facts(lambda sql: conn.exec_driver_sql(sql).all())
            run = subprocess.run(
                [_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--no-owner",
                 f"--file={partial}", f"--dbname={libpq_url}"],
                env=env, capture_output=True, text=True)
    finally:
        engine.dispose()
    if run.returncode:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"pg_dump 失败：{run.stderr.strip()}")
    partial.replace(target)
    return facts


def _write_facts(path: Path, facts: dict) -> None:
    path.write_text(json.dumps({**facts, "referenced": sorted(facts["referenced"]),
                                "registered": sorted(facts["registered"]),
                                "checkpoints": sorted(facts["checkpoints"])},
                               ensure_ascii=False, indent=1), encoding="utf-8")


def _stored_facts(path: Path) -> dict:
    facts = json.loads(path.read_text(encoding="utf-8"))
    return {**facts, "referenced": set(facts["referenced"]),
            "registered": set(facts["registered"]),
            "checkpoints": set(facts.get("checkpoints", ()))}


def backup(database_url: str, storage: Path, journal: Path, dest: Path, *,
           checkpoints: Path | None = None, progress=lambda done, total: None) -> Report:
    """Write (or bring up to date) the backup in `dest` of the database at `database_url`
    (SQLite or PostgreSQL), the blobs in `storage`, and the audit chain's checkpoint file
    `checkpoints` as it stood at the snapshot."""
    report = Report()
    dest.mkdir(parents=True, exist_ok=True)
    # Read before the snapshot: every line then names events the snapshot holds, and a
    # line whose row is not in the snapshot has had the whole backup to commit it.
    signed = checkpoints.read_bytes() if checkpoints and checkpoints.exists() else None
    if is_postgres(database_url):
        facts = _pg_snapshot(database_url, dest / "database" / "archive.dump")
        _write_facts(dest / "database" / "facts.json", facts)
    else:
        db_copy = dest / "database" / "archive.db"
        _snapshot(sqlite_path(database_url), db_copy)
        facts = _facts(db_copy)
    blobs = sorted(p for p in storage.rglob("*") if p.is_file() and _is_blob(p))
    for n, path in enumerate(blobs, 1):
        target = dest / "blobs" / path.relative_to(storage)
        if target.exists() and sha256_file(target) == path.name:
            report.kept += 1
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(path, partial)
            if sha256_file(partial) != path.name:
                partial.unlink()
                report.problems.append(f"存储文件已损坏，未备份：{path.name}")
                continue
            partial.replace(target)
            report.copied += 1
        progress(n, len(blobs))
    if journal.exists():
        shutil.copyfile(journal, dest / "destructions.jsonl")
    _copy_checkpoints(signed, dest / CHECKPOINTS, facts, database_url)
    present = {p.name for p in (dest / "blobs").rglob("*") if _is_blob(p)} \
        if (dest / "blobs").exists() else set()
    missing = facts["referenced"] - present
    if missing:
        report.problems += [f"快照引用的存储文件缺失：{m}" for m in sorted(missing)]
    (dest / "version.json").write_text(json.dumps({
        "release": RELEASE, "schema_revision": facts["revision"], "counts": facts["counts"],
        "blobs": len(present), "taken_at": now().isoformat()}, ensure_ascii=False, indent=1),
        encoding="utf-8")
    _write_manifest(dest, report)
    return report


def _copy_checkpoints(signed: bytes | None, target: Path, facts: dict,
                      database_url: str) -> None:
    """The checkpoint file, `signed` as read just before the snapshot, as it stood at the
    snapshot (docs/audit.md). A line is left out when its row was committed after the
    snapshot (in the live table, not in the snapshot's): the restored table lacks it, and
    kept it would read as a deleted checkpoint. A line whose row is missing from both is
    kept: that is the evidence of a deleted checkpoint the file exists to give, as is a
    line naming an event the snapshot lacks (each event a line names was committed
    before the line was written, so before the snapshot)."""
    target.unlink(missing_ok=True)
    if signed is None:
        return
    lines = signed.splitlines(keepends=True)
    signatures = []
    for line in lines:
        try:
            signatures.append(str(json.loads(line)["signature"]))
        except (ValueError, KeyError, TypeError):
            signatures.append(None)  # kept as it is: verify-audit names the damaged line
    late = {sig for sig in signatures if sig and sig not in facts["checkpoints"]}
    if late:
        engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                live = set(conn.execute(sa.text("SELECT signature FROM audit_checkpoints"))
                           .scalars())
        finally:
            engine.dispose()
        late &= live
    kept = [line for line, sig in zip(lines, signatures, strict=True) if sig not in late]
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(b"".join(kept))
    partial.replace(target)


def _manifest_files(dest: Path) -> list[Path]:
    return sorted(p for p in dest.rglob("*") if p.is_file()
                  and p.name not in ("manifest.json", SEAL) and not p.name.endswith(".partial"))


def _write_manifest(dest: Path, report: Report) -> None:
    files = {str(p.relative_to(dest)): sha256_file(p) for p in _manifest_files(dest)}
    report.files = len(files)
    (dest / "manifest.json").write_text(json.dumps({"files": files}, indent=1), encoding="utf-8")
    # The manifest's own digest: a damaged manifest is named as such, not mistaken for
    # damage to the file whose digest it garbled.
    (dest / SEAL).write_text(sha256_file(dest / "manifest.json") + "\n", encoding="utf-8")


def verify(src: Path) -> Report:
    """Every file of the backup against the manifest, the snapshot's integrity, and every
    blob the snapshot refers to present."""
    report = Report()
    seal = src / SEAL
    # Without its seal a manifest could have been rewritten along with the files it lists:
    # a backup whose seal is gone cannot be trusted, whatever the manifest says.
    if not seal.exists():
        report.problems.append(f"备份清单的校验文件 {SEAL} 缺失：无法确认清单未被改动，备份不可信")
        return report
    try:
        sealed_ok = seal.read_text().strip() == sha256_file(src / "manifest.json")
    except OSError as exc:
        report.problems.append(f"备份清单 manifest.json 缺失或损坏：{exc}")
        return report
    if not sealed_ok:
        report.problems.append(f"备份清单 manifest.json 已损坏或被改动（与 {SEAL} 不符）")
        return report
    try:
        manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError) as exc:
        report.problems.append(f"备份清单 manifest.json 缺失或损坏：{exc}")
        return report
    try:
        version = json.loads((src / "version.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.problems.append(f"备份版本文件 version.json 缺失或损坏：{exc}")
        return report
    for relative, digest in manifest.items():
        path = src / relative
        if not path.exists():
            report.problems.append(f"备份文件缺失：{relative}")
        elif sha256_file(path) != digest:
            report.problems.append(f"备份文件校验失败：{relative}")
    extra = {str(p.relative_to(src)) for p in _manifest_files(src)} - set(manifest)
    report.problems += [f"备份中有清单外的文件：{e}" for e in sorted(extra)]
    report.files = len(manifest)
    db_copy, dump = src / "database" / "archive.db", src / "database" / "archive.dump"
    facts = None
    if db_copy.exists() and not report.problems:
        con = sqlite3.connect(f"file:{db_copy}?mode=ro", uri=True)
        try:
            if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                report.problems.append("数据库快照未通过完整性检查")
        finally:
            con.close()
        facts = _facts(db_copy)
    elif dump.exists() and not report.problems:
        # The dump's table of contents must read back (the hashes above say the rest).
        listed = subprocess.run([_tool("pg_restore"), "--list", str(dump)],
                                capture_output=True, text=True)
        if listed.returncode:
            report.problems.append("数据库转储无法读取（pg_restore --list 失败）")
        facts = _stored_facts(src / "database" / "facts.json")
    elif not report.problems:
        report.problems.append("备份中没有数据库快照")
    if facts is not None:
        if facts["revision"] != version.get("schema_revision"):
            report.problems.append("版本文件与数据库快照的结构版本不符")
        present = {p.name for p in (src / "blobs").rglob("*") if _is_blob(p)} \
            if (src / "blobs").exists() else set()
        report.problems += [f"快照引用的存储文件缺失：{m}"
                            for m in sorted(facts["referenced"] - present)]
    return report


def journal_path(instance_dir) -> Path:
    """The destruction journal: beside the database, outside it."""
    return Path(instance_dir) / "destructions.jsonl"


def journal_entries(journal: Path) -> list[dict]:
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def append_journal(journal: Path, entry: dict) -> None:
    """One line per register row, fsynced: the record a restore re-applies."""
    journal.parent.mkdir(parents=True, exist_ok=True)
    with journal.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def restore_files(src: Path, database_url: str, storage: Path, *,
                  progress=lambda done, total: None) -> Report:
    """Verify, then put the snapshot and the blobs in place (the caller checked that the
    instance is empty and upgrades the schema afterwards). A PostgreSQL backup goes into the
    (empty) database `database_url` names, by pg_restore in one transaction; a SQLite
    one replaces the file. Each engine restores its own kind of snapshot only."""
    report = verify(src)
    if not report.ok:
        return report
    dump = src / "database" / "archive.dump"
    if is_postgres(database_url) != dump.exists():
        report.problems.append("备份的数据库类型与本实例不同（SQLite 与 PostgreSQL 之间不能直接恢复）")
        return report
    if is_postgres(database_url):
        libpq_url, env = _libpq(database_url)
        run = subprocess.run(
            [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
             f"--dbname={libpq_url}", str(dump)], env=env, capture_output=True, text=True)
        if run.returncode:
            report.problems.append(f"pg_restore 失败：{run.stderr.strip()}")
            return report
    else:
        db_path = sqlite_path(database_url)
        db_path.parent.mkdir(parents=True, exist_ok=True)
        partial = db_path.with_name(db_path.name + ".partial")
        shutil.copyfile(src / "database" / "archive.db", partial)
        partial.replace(db_path)
    blobs = sorted(p for p in (src / "blobs").rglob("*") if _is_blob(p)) \
        if (src / "blobs").exists() else []
    for n, path in enumerate(blobs, 1):
        target = storage / path.relative_to(src / "blobs")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            report.copied += 1
        if sha256_file(target) != path.name:
            report.problems.append(f"恢复后的存储文件校验失败：{path.name}")
        progress(n, len(blobs))
    return report
