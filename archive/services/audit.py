"""The audit trail: every view, download, search, change, approval, login and denial.

Events are append-only and hash-chained: each stores SHA-256(previous hash + its own
canonical content). `verify` walks the chain and names the first event that was
altered, deleted or inserted.
"""

import contextvars
import functools
import hashlib
import json
import operator
import secrets
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from archive.clock import now, to_utc
from archive.models import AuditEvent, AuditHead, utc_cutover
from archive.services import audit_anchor, validation, work
from archive.services.errors import Invalid

GENESIS = "0" * 64
_HEAD = "audit.head"  # the head, as work.locked holds it
# What an event's outcome may be: done, refused, or failed (record_refusal).
OUTCOMES = ("ok", "denied", "error")

# The client address of the current request, set by the web layer; services stay
# free of Flask request objects.
client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("client_ip", default="")
# Whether the current request has put a refusal or failure on the record already (the web
# layer audits a refused write that nothing else recorded: archive/errors.py).
refusal_recorded: contextvars.ContextVar[bool] = contextvars.ContextVar("refusal_recorded",
                                                                        default=False)


def _object_ref(obj) -> tuple[str, str]:
    if obj is None:
        return "", ""
    if isinstance(obj, tuple):
        return str(obj[0]), str(obj[1])
    return type(obj).__name__.lower(), str(getattr(obj, "id", ""))


def canonical(event: AuditEvent) -> str:
    """The event's content as the chain hashes it (every column but the hashes; the salt
    only where there is one, so events from before it verify unchanged)."""
    salt = {"salt": event.salt} if event.salt else {}
    return json.dumps(
        {
            **salt,
            "seq": event.seq,
            "at": event.at.isoformat(timespec="microseconds"),
            "actor_id": event.actor_id,
            "actor_name": event.actor_name,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "ip": event.ip,
            "outcome": event.outcome,
            "details": json.loads(event.details),
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + canonical(event)).encode("utf-8")).hexdigest()


def record(session, actor, action: str, obj=None, *, outcome: str = "ok", **details) -> AuditEvent:
    """Append one event in the caller's transaction (committed with the change it records).

    `obj` is a model instance or a (type, id) pair. Locking the head row serialises
    writers, so two concurrent events can never chain to the same predecessor (on SQLite,
    FOR UPDATE takes the database's write lock: see archive._sqlite_pragmas). The head is
    read afresh once per transaction (_locked_head).

    The event and the head are written at once, as statements, not through the session's
    unit of work: nearly every request records one, and the flush of two objects cost
    about a third of a page view's database time (bench/request_cpu.py). The event
    returned is not in the session (its row is, with its id)."""
    head = _locked_head(session)
    if head is None:
        # An empty chain's first events at once: one creates the head, the others wait for
        # it (PostgreSQL) and chain after (on SQLite the write lock lets one in at a time).
        table = AuditHead.__table__
        first = (pg_insert(table).on_conflict_do_nothing()
                 if session.get_bind().dialect.name == "postgresql" else table.insert())
        session.execute(first, {"id": 1, "seq": 0, "hash": GENESIS})
        head = _locked_head(session)
    object_type, object_id = _object_ref(obj)
    event = AuditEvent(
        seq=head.seq + 1,
        at=now(),
        actor_id=getattr(actor, "id", None),
        actor_name=getattr(actor, "username", "") or "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        ip=client_ip.get(),
        outcome=outcome,
        details=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str),
        salt=secrets.token_hex(16),
        prev_hash=head.hash,
    )
    event.hash = chain_hash(head.hash, event)
    if outcome != "ok":
        refusal_recorded.set(True)
    written = session.execute(_insert_event(), {name: getattr(event, name) for name in _EVENT_COLUMNS})
    event.id = written.inserted_primary_key[0]
    session.execute(_move_head(), {"new_seq": event.seq, "new_hash": event.hash})
    # The held head is the row as written: the next event of this transaction chains on it.
    head.seq, head.hash = event.seq, event.hash
    audit_anchor.every_n_events(session, event)
    return event


_EVENT_COLUMNS = ("seq", "at", "actor_id", "actor_name", "action", "object_type", "object_id",
                  "ip", "outcome", "details", "salt", "prev_hash", "hash")


@functools.cache
def _insert_event():
    return AuditEvent.__table__.insert()


@functools.cache
def _move_head():
    table = AuditHead.__table__
    return (table.update().where(table.c.id == 1)
            .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


def hold_head(session) -> None:
    """Lock the chain's head now, before the rows a unit locks next. Every auditing writer
    takes it before its commit; taking it first keeps one lock order (head, then rows),
    so two writers never hold one each and wait for the other (PostgreSQL; SQLite's write
    lock already serialises them, so there it costs nothing). Held until the unit ends."""
    if session.get_bind().dialect.name != "sqlite":
        _locked_head(session)


@dataclass
class _Head:
    """The chain's head as this transaction read it under its lock, and moved it since."""

    seq: int
    hash: str


@functools.cache
def _head_for_update():
    # Built once: nearly every request writes an event (as sessions._by_token). Columns,
    # not an AuditHead object: nothing of it is left in the session to go stale.
    table = AuditHead.__table__
    return select(table.c.seq, table.c.hash).where(table.c.id == 1).with_for_update()


def _locked_head(session) -> _Head | None:
    """The head, locked and read afresh once per transaction (work.locked): a second event
    of the same unit (an import writes one per row) chains on the one in hand."""
    head = work.locked(session, _HEAD)
    if head is not None:
        return head
    row = work.rows(session, _head_for_update()).first()
    if row is None:
        return None
    head = _Head(row.seq, row.hash)
    work.hold(session, _HEAD, head)
    return head


@dataclass
class ChainReport:
    checked: int
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    problem: str = ""
    # The (seq, hash) the walk ended at: the head it found intact.
    last: tuple[int, str] = (0, GENESIS)

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and not self.problem


def verify(session, after: tuple[int, str] = (0, GENESIS)) -> ChainReport:
    """Walk the chain in order; report the first event altered, deleted or inserted. From
    genesis, or from the event `after` names (seq, hash), whose own hash a signed
    checkpoint vouches for (audit_anchor.verify checks that it is still there)."""
    (start, prev_hash), checked = after, 0
    expected_seq = start + 1
    # Read afresh (populate_existing): the session may hold events and the head from
    # before a change made to the database behind its back, which is what is checked.
    fresh = {"populate_existing": True}
    rows = session.execute(select(AuditEvent).where(AuditEvent.seq > start)
                           .order_by(AuditEvent.seq).execution_options(**fresh)).scalars()
    for event in rows:
        if event.seq != expected_seq:
            return ChainReport(
                checked, event.seq, event.id,
                f"事件 #{expected_seq} 至 #{event.seq - 1} 缺失（被删除）",
            )
        if event.prev_hash != prev_hash:
            return ChainReport(checked, event.seq, event.id, f"事件 #{event.seq} 的前序哈希不符（有事件被插入或删除）")
        if chain_hash(prev_hash, event) != event.hash:
            return ChainReport(checked, event.seq, event.id, f"事件 #{event.seq} 的内容被篡改")
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None and expected_seq > 1:
        return ChainReport(checked, None, None, "链头记录缺失（被删除）")
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        return ChainReport(checked, head.seq, None, f"最新的事件 #{expected_seq} 至 #{head.seq} 缺失（被删除）")
    return ChainReport(checked, last=(expected_seq - 1, prev_hash))


def filters(params) -> dict:
    """The query's filters from the audit page's, its export's or the API's arguments:
    actor (a user name), person (part of a display name or a user name), action (a code
    or its prefix), outcome (ok, denied, error), object_type, object (or object_id), and
    from/to as dates (whole days) or times, in the archive's zone unless they carry an
    offset (returned in UTC, as times are stored). A malformed date or outcome, or a date
    outside validation's range, is refused (422)."""

    def day(key, end=False):
        value = (params.get(key) or "").strip()
        if not value:
            return None
        try:
            d = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid("日期格式应为 YYYY-MM-DD") from None
        # Far-off years are refused as every date is: a zone shift would leave the calendar.
        validation.in_range(d.date(), key, "日期")
        return to_utc(datetime.combine(d.date(), time.max if end else time.min)
                      if len(value) == 10 else d)

    outcome = (params.get("outcome") or "").strip() or None
    if outcome not in (None, *OUTCOMES):
        raise Invalid(f"结果只能是：{'、'.join(OUTCOMES)}", details={"field": "outcome"})
    return {
        "actor": (params.get("actor") or "").strip() or None,
        "person": (params.get("person") or "").strip()[:100] or None,
        "action": (params.get("action") or "").strip() or None,
        "outcome": outcome,
        "object_type": (params.get("object_type") or "").strip() or None,
        "object_id": (params.get("object") or params.get("object_id") or "").strip() or None,
        "start": day("from"),
        "end": day("to", end=True),
    }


def query(session, *, actor: str | None = None, action: str | None = None,
          object_type: str | None = None, object_id: str | None = None,
          start: datetime | None = None, end: datetime | None = None,
          person: str | None = None, outcome: str | None = None):
    """A select of events matching the filters, newest first (for the audit page and API)."""
    from archive.models import User

    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if actor:
        stmt = stmt.where(AuditEvent.actor_name == actor)
    if person:
        stmt = stmt.where(AuditEvent.actor_id.in_(select(User.id).where(
            User.display_name.contains(person, autoescape=True) | (User.username == person))))
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    if outcome:
        stmt = stmt.where(AuditEvent.outcome == outcome)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == str(object_id))
    if start:
        stmt = stmt.where(_time_bound(session, operator.ge, start))
    if end:
        stmt = stmt.where(_time_bound(session, operator.le, end))
    return stmt


def _time_bound(session, compare, moment: datetime):
    """Events whose time `compare`s to `moment` (UTC). Those before the cut-over hold
    local time and keep it (the chain hashes it): they are compared with `moment` in
    their zone."""
    cut = utc_cutover(session)
    if cut.audit_seq <= 1:
        return compare(AuditEvent.at, moment)
    return or_(and_(AuditEvent.seq >= cut.audit_seq, compare(AuditEvent.at, moment)),
               and_(AuditEvent.seq < cut.audit_seq, compare(AuditEvent.at, cut.legacy(moment))))


# What a withheld event shows in place of its details.
WITHHELD = "（涉及超出本人密级的内容，详情已隐去）"


def withheld(session, viewer, events) -> set[int]:
    """Ids of the events whose details `viewer` may not read (docs/hardening.md, finding 16).

    Every event stays listed with who, when, what and the object's id, so the trail is
    complete and countable; only the details, which name titles, file names and dossier
    numbers, are withheld when the event concerns a document or dossier the viewer may
    not open: its object, or one its details name (a level change's or designation's
    target, a reference's other dossier). What cannot be resolved any more is withheld
    (fail closed). A search's words and hit count are withheld when the searcher reaches
    further than the viewer (the count would confirm hidden matches). Refusals
    (`access.denied`) carry only the path asked for and are always shown. The GM reads
    everything; `flask verify-audit` checks the whole chain regardless."""
    from archive.models import (
        ApprovalRequest,
        ApprovalRoute,
        Customer,
        Designation,
        Destruction,
        Document,
        Dossier,
        Handover,
        LegalHold,
        Loan,
        TransferBatch,
        User,
    )
    from archive.services import access

    if access.is_gm(viewer):
        return set()
    models = {"document": Document, "dossier": Dossier,
              "approvalrequest": ApprovalRequest, "designation": Designation, "loan": Loan,
              "destruction": Destruction, "legalhold": LegalHold,
              "transferbatch": TransferBatch, "handover": Handover,
              # level changes before the approval engine (their ids were kept)
              "classificationchange": ApprovalRequest}
    concerns = {e.id: _concerns(e, models) for e in events if e.action != "access.denied"}
    wanted: dict[str, set] = {}
    for refs in concerns.values():
        for kind, key in refs:
            wanted.setdefault(kind, set()).add(key)
    loaded: dict[str, dict] = {
        kind: {row.id: row for row in session.execute(
            select(model).where(model.id.in_(wanted[kind]))).scalars()}
        for kind, model in models.items() if wanted.get(kind)
    }
    if wanted.get("dossier_number"):
        loaded["dossier_number"] = {row.number: row for row in session.execute(
            select(Dossier).where(Dossier.number.in_(wanted["dossier_number"]))).scalars()}
    verdicts: dict[tuple[str, object], bool] = {}

    def hidden(kind: str, key) -> bool:
        if (kind, key) not in verdicts:
            target = loaded.get(kind, {}).get(key)
            if isinstance(target, ApprovalRequest):
                if target.subject is None or isinstance(target.subject, ApprovalRoute):
                    # No protected subject: a route, or a customer named only as typed.
                    verdicts[kind, key] = False
                    return False
                target = target.subject
            elif isinstance(target, Designation):
                target = (session.get(Document, target.document_id) if target.document_id
                          else session.get(Dossier, target.dossier_id))
            elif isinstance(target, LegalHold):
                target = target.subject
            if target is None:
                verdicts[kind, key] = True
            else:
                action = {Document: "document.view", Dossier: "dossier.view",
                          Customer: "customer.view", Loan: "loan.view",
                          Destruction: "destruction.view", TransferBatch: "transfer.view",
                          Handover: "handover.view"}[type(target)]
                verdicts[kind, key] = not access.can(viewer, action, target)
        return verdicts[kind, key]

    result = {event_id for event_id, refs in concerns.items()
              if any(hidden(kind, key) for kind, key in refs)}
    searchers = {e.actor_id for e in events if e.action == "search" and e.actor_id}
    if searchers:
        actors = {u.id: u for u in session.execute(
            select(User).where(User.id.in_(searchers))).scalars()}
        result |= {e.id for e in events if e.action == "search" and e.actor_id in actors
                   and _reaches_beyond(session, actors[e.actor_id], viewer)}
    return result


def _concerns(event: AuditEvent, models) -> list[tuple[str, object]]:
    """The (kind, id) of every document, dossier, change or designation an event is about."""
    refs: list[tuple[str, object]] = []
    if event.object_type in models and event.object_id:
        refs.append((event.object_type, _int(event.object_id)))
    try:
        details = json.loads(event.details or "{}")
    except ValueError:
        details = {}
    target = details.get("target") if isinstance(details, dict) else None
    if isinstance(target, str) and ":" in target:
        kind, _, key = target.partition(":")
        if kind in models:
            refs.append((kind, _int(key)))
    if event.action == "dossier.referenced" and isinstance(details.get("to"), str):
        refs.append(("dossier_number", details["to"]))
    return refs


def _int(value: str) -> int:
    """An id from the trail; a malformed one names nothing (and so is withheld)."""
    return int(value) if value.isdecimal() and len(value) < 19 else -1


def _reaches_beyond(session, actor, viewer) -> bool:
    """Whether `actor` may open something `viewer` may not (higher clearance, the GM's
    reach, or a 绝密 designation)."""
    from archive.services import access

    if actor.id == viewer.id:
        return False
    if access.is_gm(actor) or actor.clearance > viewer.clearance:
        return True
    return access.designated_for_anything(session, actor)


@dataclass
class Listing:
    """Events of the trail as one reader may see them."""

    events: list[AuditEvent]
    # Ids of the events whose details the reader may not read (see `withheld`).
    withheld: set[int]
    # How many events match across all pages (None: not counted).
    total: int | None = None


def list_events(session, viewer, params: dict, *, limit: int | None = None, page: int = 1,
                count: bool = False, recorded_as: str = "audit.viewed") -> Listing:
    """The events matching `params` (see `filters`), newest first, for a `viewer` who holds
    audit.view: `limit` of them from `page` on (all without a limit), whose details are
    withheld from the viewer, and, with `count`, how many match in all. The audit page,
    its CSV export and the API list the trail here, so each answers the same. The looking
    is itself recorded (`recorded_as`: audit.viewed, audit.exported) with the arguments."""
    from archive.services import access

    access.require(viewer, "audit.view")
    stmt = query(session, **filters(params))
    total = None
    if count:
        total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    if limit is not None:
        stmt = stmt.limit(limit).offset((page - 1) * limit)
    events = list(session.execute(stmt).scalars())
    hidden = withheld(session, viewer, events)
    record(session, viewer, recorded_as, None, filters=dict(params))
    return Listing(events, hidden, total)
