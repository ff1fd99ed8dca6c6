"""Every route, every role: who gets in, who is refused, and that a refusal for an object
the user may not see reads exactly like the answer for an id that does not exist.

`ROUTES` classifies every rule of the URL map by the permissions it must check, in
order. A route missing from the table fails `test_every_route_is_classified`: a new
route is not done until someone has written down who may use it.
"""

import itertools
import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from archive import create_app, samples
from archive.clock import now
from archive.extensions import db
from archive.models import AccessGrant, Designation, User
from archive.services import access, accounts, customers, filing, indexing, work
from config import TestConfig
from tests import databases
from tests.conftest import NUMBER_FORMAT, PASSWORDS

ROLES = ["officer", "staff", "service", "head", "gmoffice", "legal", "gm", "auditor", "admin",
         "staff_public", "staff_secret", "service_head"]
PRINCIPALS = [None, *ROLES]  # None: anonymous
MISSING = 987654
CALENDAR_DAY = "2031-05-06"  # a Tuesday the working-day calendar does not list
PDF = samples.make_pdf("矩阵测试", ["访问控制矩阵测试文件。"])
_counter = itertools.count(1)


# -- what each route must check ---------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One permission; `on`: None, "target" (the object the URL or body names), or
    "target.<attribute>". The action "exists" only looks the target up (404 if missing)."""

    action: str
    on: str | None = None

    def subject(self, target):
        if self.on and self.on.startswith("target."):
            return getattr(target, self.on.removeprefix("target."))
        return target if self.on == "target" else None


@dataclass(frozen=True)
class Rule:
    """Who may call one route with one method.

    public: anyone, anonymous too. Otherwise a signed-in user who passes every check
    in order; a failed `.view`/`.read` check on the target answers as for a missing id.
    `ok` adds statuses that still mean "let in" (a form error after the access checks).
    """

    checks: tuple[Check, ...] = ()
    public: bool = False
    target: str | None = None  # customer, dossier, document, file
    payload: str | None = None
    ok: frozenset = field(default_factory=frozenset)


LOGIN = Rule()
PUBLIC = Rule(public=True)


def on(kind, *actions, payload=None, ok=()):
    return Rule(checks=tuple(Check(a, "target") for a in actions), target=kind, payload=payload,
                ok=frozenset(ok))


def needs(action, payload=None, ok=()):
    return Rule(checks=(Check(action),), payload=payload, ok=frozenset(ok))


def then_lookup(action, kind, ok=()):
    """A permission first, then the object by id (404 only for those allowed to ask)."""
    return Rule(checks=(Check(action), Check("exists", "target")), target=kind,
                ok=frozenset(ok))


def needs_then_invalid(action):
    return Rule(checks=(Check(action),), ok=frozenset({422}))


def decision():
    """Approving or rejecting a level change: the change's object must be visible, then
    a step of its route must name the decider (000:742: its department head, the GM
    office). Once one decider has decided, the next meets a decided step or change (409)."""
    return Rule(checks=(Check("document.view", "target.document"),
                        Check("approval.decide", "target")), target="change",
                ok=frozenset({409}))


def api_decision():
    return decision()


def engine(*actions, ok=()):
    """A route on one approval request: it must be visible (else as missing), then each
    action holds."""
    return Rule(checks=tuple(Check(a, "target") for a in ("approval.view", *actions)),
                target="approval", ok=frozenset(ok))


def loan_rule(*actions, ok=()):
    """A route on one loan: it must be visible (else as missing), then each action holds."""
    return Rule(checks=tuple(Check(a, "target") for a in ("loan.view", *actions)),
                target="loan", ok=frozenset(ok))


def lent(ok=()):
    """A lent document opened through an electronic loan: the loan must be visible (else
    as missing), and the user its borrower."""
    return Rule(checks=(Check("loan.view", "target"), Check("loan.open", "target")),
                target="electronic_loan", ok=frozenset(ok))


ROUTES = {
    ("auth.login", "/login"): {"GET": PUBLIC, "POST": Rule(public=True, payload="login")},
    ("auth.set_language", "/lang/<code>"): {"GET": PUBLIC},
    ("auth.logout", "/logout"): {"POST": LOGIN},
    # A wrong old password: the only change that leaves the saved sessions usable.
    ("auth.change_password", "/account/password"): {
        "GET": LOGIN, "POST": Rule(payload="password", ok=frozenset({422}))},
    ("main.dashboard", "/"): {"GET": LOGIN},
    ("search.index", "/search"): {"GET": LOGIN},
    ("customers.index", "/customers"): {"GET": LOGIN},
    ("customers.new", "/customers/new"): {
        "GET": needs("customer.create"), "POST": needs("customer.create", "customer")},
    ("customers.show", "/customers/<int:customer_id>"): {"GET": on("customer", "customer.view")},
    ("customers.new_dossier", "/customers/<int:customer_id>/dossiers/new"): {
        "GET": on("customer", "customer.view", "dossier.create"),
        "POST": on("customer", "customer.view", "dossier.create", payload="dossier")},
    ("dossiers.show", "/dossiers/<int:dossier_id>"): {"GET": on("dossier", "dossier.view")},
    # The printed forms are the archive room's (issue 18); other readers have the page.
    ("dossiers.volume_index", "/dossiers/<int:dossier_id>/index"): {
        "GET": on("dossier", "dossier.view", "dossier.print")},
    ("dossiers.remarks", "/dossiers/<int:dossier_id>/remarks"): {
        "GET": on("dossier", "dossier.view", "dossier.print")},
    ("dossiers.cover", "/dossiers/<int:dossier_id>/cover"): {
        "GET": on("dossier", "dossier.view", "dossier.print")},
    ("dossiers.upload", "/dossiers/<int:dossier_id>/upload"): {
        "GET": on("dossier", "dossier.view", "document.upload"),
        "POST": on("dossier", "dossier.view", "document.upload", payload="document")},
    # Renumbering is the archive room's (issue 18); the matrix's dossiers are numbered in
    # today's form already, so it is refused as a form error (flashed) once access passed.
    ("dossiers.renumber", "/dossiers/<int:dossier_id>/renumber"): {
        "POST": on("dossier", "dossier.view", "dossier.correct")},
    # The dossier referring to itself: refused as a form error once access has passed.
    ("dossiers.add_reference", "/dossiers/<int:dossier_id>/references"): {
        "POST": on("dossier", "dossier.view", "document.upload", payload="reference")},
    ("documents.show", "/documents/<int:document_id>"): {"GET": on("document", "document.view")},
    # A download is a copy: 绝密 needs the GM's copy approval (002:45).
    ("documents.download", "/documents/<int:document_id>/download"): {
        "GET": on("document", "document.read", "document.copy")},
    ("documents.download", "/documents/<int:document_id>/files/<int:file_id>/download"): {
        "GET": on("file", "document.read", "document.copy")},
    ("documents.preview", "/documents/<int:document_id>/preview"): {
        "GET": on("document", "document.read")},
    ("documents.preview", "/documents/<int:document_id>/files/<int:file_id>/preview"): {
        "GET": on("file", "document.read")},
    ("audit.index", "/audit"): {"GET": needs("audit.view")},
    ("audit.export", "/audit/export.csv"): {"GET": needs("audit.view")},
    ("audit.verify", "/audit/verify"): {"GET": needs("audit.view")},
    ("audit.sign", "/audit/verify"): {"POST": needs("audit.view")},
    # The working-day calendar: anyone signed in reads it, the administrator keeps it.
    # CALENDAR_DAY is not in it: removing it answers 404 (the page flashes that), an
    # empty body is a form error (422).
    ("calendar.index", "/admin/calendar"): {"GET": needs("calendar.manage")},
    ("calendar.set_day", "/admin/calendar"): {"POST": needs("calendar.manage")},
    ("calendar.remove", "/admin/calendar/<day>/remove"): {"POST": needs("calendar.manage")},
    ("api.calendar_days", "/api/v1/calendar"): {"GET": LOGIN},
    ("api.set_calendar_day", "/api/v1/calendar/<day>"): {
        "PUT": needs_then_invalid("calendar.manage")},
    ("api.remove_calendar_day", "/api/v1/calendar/<day>"): {
        "DELETE": needs("calendar.manage", ok={404})},
    ("api.list_customers", "/api/v1/customers"): {"GET": LOGIN},
    ("api.create_customer", "/api/v1/customers"): {"POST": needs("customer.create", "customer")},
    ("api.get_customer", "/api/v1/customers/<int:customer_id>"): {
        "GET": on("customer", "customer.view")},
    ("api.create_dossier", "/api/v1/dossiers"): {
        "POST": on("customer", "customer.view", "dossier.create", payload="dossier")},
    ("api.get_dossier", "/api/v1/dossiers/<int:dossier_id>"): {"GET": on("dossier", "dossier.view")},
    ("api.add_reference", "/api/v1/dossiers/<int:dossier_id>/references"): {
        "POST": on("dossier", "dossier.view", "document.upload", payload="reference", ok={422})},
    ("api.upload_document", "/api/v1/dossiers/<int:dossier_id>/documents"): {
        "POST": on("dossier", "dossier.view", "document.upload", payload="document")},
    ("api.get_document", "/api/v1/documents/<int:document_id>"): {
        "GET": on("document", "document.view")},
    ("api.document_content", "/api/v1/documents/<int:document_id>/content"): {
        "GET": on("document", "document.read", "document.copy")},
    ("api.search", "/api/v1/search"): {"GET": LOGIN},
    ("api.openapi_document", "/api/v1/openapi.json"): {"GET": PUBLIC},
    ("classification.request_document", "/documents/<int:document_id>/classification"): {
        "POST": on("document", "document.view", "classification.request", payload="level")},
    ("classification.request_dossier", "/dossiers/<int:dossier_id>/classification"): {
        "POST": on("dossier", "dossier.view", "classification.request", payload="level")},
    ("classification.pending", "/classification/pending"): {"GET": LOGIN},
    ("classification.approve", "/classification/<int:change_id>/approve"): {"POST": decision()},
    ("classification.reject", "/classification/<int:change_id>/reject"): {"POST": decision()},
    ("grants.index", "/grants"): {"GET": needs("grant.manage")},
    ("grants.create", "/grants"): {"POST": needs("grant.manage")},
    ("grants.revoke", "/grants/<int:grant_id>/revoke"): {
        "POST": then_lookup("grant.manage", "grant")},
    ("grants.designate", "/designations"): {"POST": needs("designation.manage")},
    ("grants.revoke_designation", "/designations/<int:designation_id>/revoke"): {
        "POST": then_lookup("designation.manage", "designation")},
    ("grants.approve_copy", "/copy-approvals"): {"POST": needs("copy.approve")},
    ("grants.revoke_copy", "/copy-approvals/<int:approval_id>/revoke"): {
        "POST": then_lookup("copy.approve", "copy")},
    ("api.audit_events", "/api/v1/audit"): {"GET": needs("audit.view")},
    ("api.request_document_classification", "/api/v1/documents/<int:document_id>/classification"): {
        "POST": on("document", "document.view", "classification.request", payload="level",
                   ok={409, 422})},
    ("api.request_dossier_classification", "/api/v1/dossiers/<int:dossier_id>/classification"): {
        "POST": on("dossier", "dossier.view", "classification.request", payload="level",
                   ok={409, 422})},
    ("api.document_classification_history",
     "/api/v1/documents/<int:document_id>/classification-history"): {
        "GET": on("document", "document.view")},
    ("api.pending_classification_changes", "/api/v1/classification-changes"): {"GET": LOGIN},
    # Once one decider has decided, the next one meets a decided change (409).
    ("api.approve_classification_change",
     "/api/v1/classification-changes/<int:change_id>/approve"): {"POST": api_decision()},
    ("api.reject_classification_change",
     "/api/v1/classification-changes/<int:change_id>/reject"): {"POST": api_decision()},
    # An empty body passes the permission and is then refused as a form error (422).
    ("api.list_grants", "/api/v1/grants"): {"GET": needs("grant.manage")},
    ("api.create_grant", "/api/v1/grants"): {"POST": needs_then_invalid("grant.manage")},
    ("api.revoke_grant", "/api/v1/grants/<int:grant_id>/revoke"): {
        "POST": then_lookup("grant.manage", "grant", ok={409})},
    ("api.create_designation", "/api/v1/designations"): {
        "POST": needs_then_invalid("designation.manage")},
    ("api.delete_designation", "/api/v1/designations/<int:designation_id>"): {
        # The web route may already have withdrawn the world's one designation.
        "DELETE": then_lookup("designation.manage", "designation", ok={404})},
    ("api.create_copy_approval", "/api/v1/copy-approvals"): {
        "POST": needs_then_invalid("copy.approve")},
    ("api.revoke_copy_approval", "/api/v1/copy-approvals/<int:approval_id>/revoke"): {
        "POST": then_lookup("copy.approve", "copy", ok={409})},
    # The approval engine: the inbox and routes are per signed-in user; a request is seen
    # by its requester, its deciders and the readers of its subject.
    ("api.approval_inbox", "/api/v1/approvals"): {"GET": LOGIN},
    ("api.approval_detail", "/api/v1/approvals/<int:request_id>"): {"GET": engine()},
    ("api.approval_approve", "/api/v1/approvals/<int:request_id>/approve"): {
        "POST": engine("approval.decide", ok={409})},
    ("api.approval_reject", "/api/v1/approvals/<int:request_id>/reject"): {
        "POST": engine("approval.decide", ok={409})},
    ("api.approval_withdraw", "/api/v1/approvals/<int:request_id>/withdraw"): {
        "POST": engine("approval.withdraw", ok={409})},
    # An empty body passes the permission and is refused as a form error (422).
    ("api.ask_access", "/api/v1/access-requests"): {
        "POST": needs_then_invalid("approval.ask_access")},
    # Not 绝密 (422) or already allowed (409): refused after the access checks.
    ("api.ask_copy", "/api/v1/documents/<int:document_id>/copy-requests"): {
        "POST": on("document", "document.view", "document.read", "copy.request",
                   ok={409, 422})},
    ("api.approval_routes", "/api/v1/approval-routes"): {"GET": LOGIN},
    # Lending: asking is for those who read (an empty body is then a form error); the
    # register lists one's own loans to others; a loan is seen by its borrower, requester,
    # deciders and the register's readers; the counter is the archive room's.
    ("api.create_loan", "/api/v1/loans"): {"POST": needs_then_invalid("loan.request")},
    ("api.list_loans", "/api/v1/loans"): {"GET": LOGIN},
    # Bulk import (issue 19) is the archive room's: the page, the upload (without a file:
    # a form error), an import and its report; the API answers 422 to a body without a ZIP.
    ("imports.index", "/imports"): {"GET": needs("import.run")},
    ("imports.upload", "/imports"): {"POST": needs("import.run")},
    ("imports.show", "/imports/<int:import_id>"): {"GET": then_lookup("import.run", "import")},
    # 四性检测 reports (issue 21): the archive room's and the auditors'.
    ("preservation.index", "/preservation"): {"GET": needs("preservation.view")},
    ("preservation.show", "/preservation/runs/<int:run_id>"): {
        "GET": then_lookup("preservation.view", "preservation_run")},
    ("preservation.report", "/preservation/runs/<int:run_id>/report.csv"): {
        "GET": then_lookup("preservation.view", "preservation_run")},
    ("api.list_storage_checks", "/api/v1/storage-checks"): {"GET": needs("preservation.view")},
    ("api.get_storage_check", "/api/v1/storage-checks/<int:run_id>"): {
        "GET": then_lookup("preservation.view", "preservation_run")},
    ("imports.report", "/imports/<int:import_id>/report.csv"): {
        "GET": then_lookup("import.run", "import")},
    ("api.create_import", "/api/v1/imports"): {"POST": needs_then_invalid("import.run")},
    ("api.get_import", "/api/v1/imports/<int:import_id>"): {
        "GET": then_lookup("import.run", "import")},
    ("api.get_loan", "/api/v1/loans/<int:loan_id>"): {"GET": loan_rule()},
    ("api.checkout_loan", "/api/v1/loans/<int:loan_id>/checkout"): {
        "POST": loan_rule("loan.counter", ok={409, 422})},
    ("api.return_loan", "/api/v1/loans/<int:loan_id>/return"): {
        "POST": loan_rule("loan.counter", ok={409, 422})},
    ("api.renew_loan", "/api/v1/loans/<int:loan_id>/renew"): {
        "POST": loan_rule("loan.handle", ok={409, 422})},
    ("api.report_loan_loss", "/api/v1/loans/<int:loan_id>/report-loss"): {
        "POST": loan_rule("loan.handle", ok={409, 422})},
    ("api.close_loss_report", "/api/v1/loss-reports/<int:report_id>/close"): {
        "POST": then_lookup("loan.counter", "loss_report", ok={409, 422})},
    # Electronic loans: the lent documents open to the borrower alone, through the loan.
    ("api.lent_document_content",
     "/api/v1/loans/<int:loan_id>/documents/<int:document_id>/content"): {"GET": lent()},
    ("loan_items.view", "/loans/<int:loan_id>/documents/<int:document_id>/view"): {
        "GET": lent()},
    ("loan_items.download", "/loans/<int:loan_id>/documents/<int:document_id>/download"): {
        "GET": lent()},
    # External readers: the archive room registers them (an empty body is then a form
    # error) and hands them stamped copies (a staff member's loan is refused with 409).
    ("api.create_external_loan", "/api/v1/loans/external"): {
        "POST": needs_then_invalid("loan.counter")},
    ("api.make_loan_copy", "/api/v1/loans/<int:loan_id>/copies"): {
        "POST": loan_rule("loan.counter", ok={409, 422})},
    ("external_loans.new", "/loans/external/new"): {
        "GET": needs("loan.counter"), "POST": needs("loan.counter", ok={422})},
    ("external_loans.show", "/loans/<int:loan_id>/external"): {"GET": loan_rule()},
    # The scans: whoever may see the loan (its deciders read the notice before deciding).
    ("external_loans.scan", "/loans/<int:loan_id>/external/scans/<int:scan_id>"): {
        "GET": Rule(checks=(Check("loan.view", "target"),), target="loan_scan")},
    ("api.loan_scan", "/api/v1/loans/<int:loan_id>/scans/<int:scan_id>"): {
        "GET": Rule(checks=(Check("loan.view", "target"),), target="loan_scan")},
    ("external_loans.copy", "/loans/<int:loan_id>/external/copies"): {
        "POST": loan_rule("loan.counter")},
    ("api.propose_route_change", "/api/v1/approval-routes/<int:route_id>/changes"): {
        "POST": then_lookup("route.propose", "route", ok={422})},
    # The same operations as pages: a form error or a decided request (409, 422) is
    # flashed on the page the form came from; a refusal answers 403, a hidden request 404.
    ("approvals.inbox", "/approvals"): {"GET": LOGIN},
    ("approvals.mine", "/approvals/mine"): {"GET": LOGIN},
    ("approvals.show", "/approvals/<int:request_id>"): {"GET": engine()},
    ("approvals.approve", "/approvals/<int:request_id>/approve"): {
        "POST": engine("approval.decide")},
    ("approvals.reject", "/approvals/<int:request_id>/reject"): {
        "POST": engine("approval.decide")},
    ("approvals.withdraw", "/approvals/<int:request_id>/withdraw"): {
        "POST": engine("approval.withdraw")},
    ("approvals.ask_access", "/access-requests"): {"POST": needs("approval.ask_access")},
    ("approvals.ask_copy", "/documents/<int:document_id>/copy-requests"): {
        "POST": on("document", "document.view", "document.read", "copy.request")},
    # Routes are data every signed-in user may read; the administrator proposes changes.
    ("approvals.routes", "/admin/routes"): {"GET": LOGIN},
    ("approvals.propose_route", "/admin/routes/<int:route_id>/changes"): {
        "POST": then_lookup("route.propose", "route")},
    # Lending pages: the request form on a dossier one may open (an empty form is a form
    # error, 422, shown on the form); a loan's page and its 申请表 as the API's; the
    # counter's and borrower's steps flash a refused transition (302), a refusal answers
    # 403 and a hidden loan 404; the counter and the register are the archive room's.
    ("loans.new", "/dossiers/<int:dossier_id>/loans/new"): {
        "GET": on("dossier", "dossier.view", "loan.request"),
        "POST": on("dossier", "dossier.view", "loan.request", ok={422})},
    ("loans.mine", "/loans/mine"): {"GET": LOGIN},
    ("loans.show", "/loans/<int:loan_id>"): {"GET": loan_rule()},
    ("loans.application", "/loans/<int:loan_id>/form"): {"GET": loan_rule()},
    ("loans.counter", "/loans/counter"): {"GET": needs("loan.counter")},
    ("loans.register", "/loans/register"): {"GET": needs("loan.register")},
    ("loans.register_csv", "/loans/register.csv"): {"GET": needs("loan.register")},
    ("loans.checkout", "/loans/<int:loan_id>/checkout"): {"POST": loan_rule("loan.counter")},
    ("loans.check_in", "/loans/<int:loan_id>/return"): {"POST": loan_rule("loan.counter")},
    ("loans.renew", "/loans/<int:loan_id>/renew"): {"POST": loan_rule("loan.handle")},
    ("loans.report_loss", "/loans/<int:loan_id>/report-loss"): {
        "POST": loan_rule("loan.handle")},
    ("loans.close_report", "/loans/reports/<int:report_id>/close"): {
        "POST": then_lookup("loan.counter", "loss_report")},
    ("api.loan_register", "/api/v1/loans/register"): {"GET": needs("loan.register")},
    # Retention and destruction (issue 17, docs/retention.md). Forms sent empty are refused
    # (422) once access has passed; nothing in the world changes.
    ("api.retention_schedule", "/api/v1/retention/schedule"): {"GET": LOGIN},
    ("api.change_retention_rule", "/api/v1/retention/schedule"): {
        "PUT": needs_then_invalid("retention.manage")},
    ("api.retention_due", "/api/v1/retention/due"): {"GET": needs("retention.review")},
    ("api.appraise_document", "/api/v1/documents/<int:document_id>/appraisals"): {
        "POST": on("document", "document.view", "retention.appraise", ok={422})},
    ("api.close_dossier", "/api/v1/dossiers/<int:dossier_id>/close"): {
        "POST": on("dossier", "dossier.view", "dossier.close", payload="bad_date",
                   ok={422})},
    ("api.reopen_dossier", "/api/v1/dossiers/<int:dossier_id>/reopen"): {
        "POST": on("dossier", "dossier.view", "dossier.close", ok={409})},
    ("api.case_closed", "/api/v1/dossiers/<int:dossier_id>/case-closed"): {
        "POST": on("dossier", "dossier.view", "dossier.close", ok={422})},
    ("api.list_holds", "/api/v1/holds"): {"GET": needs("hold.view")},
    ("api.place_hold", "/api/v1/holds"): {"POST": needs_then_invalid("hold.manage")},
    ("api.lift_hold", "/api/v1/holds/<int:hold_id>/lift"): {"POST": Rule(
        checks=(Check("hold.view"), Check("document.view", "target.document"),
                Check("hold.manage")), target="hold", ok=frozenset({422}))},
    ("api.list_destructions", "/api/v1/destructions"): {"GET": needs("destruction.list")},
    ("api.propose_destruction", "/api/v1/destructions"): {
        "POST": needs_then_invalid("destruction.propose")},
    ("api.destruction_register", "/api/v1/destructions/register"): {
        "GET": needs("destruction.list")},
    ("api.get_destruction", "/api/v1/destructions/<int:batch_id>"): {
        "GET": on("destruction", "destruction.view")},
    ("api.destruction_certificate", "/api/v1/destructions/<int:batch_id>/certificate.pdf"): {
        "GET": on("destruction", "destruction.view")},
    # The batch waits for approval: those who may execute it are told so (409).
    ("api.execute_destruction", "/api/v1/destructions/<int:batch_id>/execute"): {
        "POST": on("destruction", "destruction.view", "destruction.execute", ok={409})},
    ("api.drop_destruction_item",
     "/api/v1/destructions/<int:batch_id>/items/<int:document_id>/drop"): {
        "POST": on("destruction", "destruction.view", "destruction.execute", ok={409})},
    # The same on the web: a form sent empty is answered with its error on the page.
    ("retention.schedule", "/retention/schedule"): {"GET": LOGIN},
    ("retention.change_rule", "/retention/schedule"): {"POST": needs("retention.manage")},
    ("retention.due", "/retention/due"): {"GET": needs("retention.review")},
    ("retention.appraise", "/retention/appraisals"): {
        "POST": needs("retention.review", ok={404})},
    ("retention.close_dossier", "/dossiers/<int:dossier_id>/close"): {
        "POST": on("dossier", "dossier.view", "dossier.close", payload="bad_date")},
    ("retention.reopen_dossier", "/dossiers/<int:dossier_id>/reopen"): {
        "POST": on("dossier", "dossier.view", "dossier.close")},
    ("retention.case_closed", "/dossiers/<int:dossier_id>/case-closed"): {
        "POST": on("dossier", "dossier.view", "dossier.close")},
    ("retention.hold_list", "/holds"): {"GET": needs("hold.view")},
    ("retention.place_hold", "/holds"): {"POST": needs("hold.manage")},
    ("retention.lift_hold", "/holds/<int:hold_id>/lift"): {"POST": Rule(
        checks=(Check("hold.view"), Check("document.view", "target.document"),
                Check("hold.manage")), target="hold")},
    ("retention.destructions", "/destructions"): {"GET": needs("destruction.list")},
    ("retention.propose", "/destructions"): {"POST": needs("destruction.propose")},
    ("retention.register", "/destructions/register"): {"GET": needs("destruction.list")},
    ("retention.show", "/destructions/<int:batch_id>"): {
        "GET": on("destruction", "destruction.view")},
    ("retention.certificate", "/destructions/<int:batch_id>/certificate.pdf"): {
        "GET": on("destruction", "destruction.view")},
    ("retention.execute", "/destructions/<int:batch_id>/execute"): {
        "POST": on("destruction", "destruction.view", "destruction.execute", ok={409})},
    ("retention.drop_item", "/destructions/<int:batch_id>/items/<int:document_id>/drop"): {
        "POST": on("destruction", "destruction.view", "destruction.execute")},
    # Transfers (issue 19, docs/transfers.md). The world's batch is a draft of 销售经营部:
    # its sender submits it once (later calls meet a submitted batch: 409), the receiver
    # sends no counts (422) and nothing else changes.
    ("api.create_transfer", "/api/v1/transfers"): {
        "POST": needs_then_invalid("transfer.prepare")},
    ("api.list_transfers", "/api/v1/transfers"): {"GET": needs("transfer.list")},
    ("api.get_transfer", "/api/v1/transfers/<int:batch_id>"): {
        "GET": on("transfer", "transfer.view")},
    ("api.submit_transfer", "/api/v1/transfers/<int:batch_id>/submit"): {
        "POST": on("transfer", "transfer.view", "transfer.send", ok={409})},
    ("api.withdraw_transfer", "/api/v1/transfers/<int:batch_id>/withdraw"): {
        "POST": on("transfer", "transfer.view", "transfer.send", ok={409})},
    ("api.receive_transfer", "/api/v1/transfers/<int:batch_id>/receive"): {
        "POST": on("transfer", "transfer.view", "transfer.receive", ok={409, 422})},
    ("api.transfer_dashboard", "/api/v1/transfers/dashboard"): {"GET": needs("transfer.list")},
    ("api.transfer_register", "/api/v1/transfers/register.csv"): {
        "GET": needs("transfer.list")},
    ("api.transfer_rules", "/api/v1/transfer-rules"): {"GET": LOGIN},
    ("api.change_transfer_rule", "/api/v1/transfer-rules"): {
        "PUT": needs_then_invalid("transfer.rules")},
    ("api.open_handover", "/api/v1/handovers"): {
        "POST": needs_then_invalid("handover.start")},
    ("api.list_handovers", "/api/v1/handovers"): {"GET": LOGIN},
    ("api.get_handover", "/api/v1/handovers/<int:handover_id>"): {
        "GET": on("handover", "handover.view")},
    ("api.sign_handover", "/api/v1/handovers/<int:handover_id>/sign"): {
        "POST": on("handover", "handover.view", "handover.sign", ok={409})},
    ("transfers.index", "/transfers"): {"GET": needs("transfer.list")},
    ("transfers.create", "/transfers"): {"POST": needs("transfer.prepare")},
    ("transfers.new", "/transfers/new"): {"GET": needs("transfer.prepare")},
    ("transfers.show", "/transfers/<int:batch_id>"): {"GET": on("transfer", "transfer.view")},
    ("transfers.form", "/transfers/<int:batch_id>/form"): {
        "GET": on("transfer", "transfer.view")},
    ("transfers.submit", "/transfers/<int:batch_id>/submit"): {
        "POST": on("transfer", "transfer.view", "transfer.send")},
    ("transfers.withdraw", "/transfers/<int:batch_id>/withdraw"): {
        "POST": on("transfer", "transfer.view", "transfer.send")},
    ("transfers.receive", "/transfers/<int:batch_id>/receive"): {
        "POST": on("transfer", "transfer.view", "transfer.receive")},
    ("transfers.register_csv", "/transfers/register.csv"): {"GET": needs("transfer.list")},
    ("transfers.rules", "/transfers/rules"): {"GET": LOGIN},
    ("transfers.change_rule", "/transfers/rules"): {"POST": needs("transfer.rules")},
    ("transfers.move_in", "/transfers/move-in"): {"POST": needs("transfer.rules")},
    ("transfers.handovers", "/handovers"): {"GET": LOGIN},
    ("transfers.open_handover", "/handovers"): {"POST": needs("handover.start")},
    ("transfers.handover", "/handovers/<int:handover_id>"): {
        "GET": on("handover", "handover.view")},
    ("transfers.sign", "/handovers/<int:handover_id>/sign"): {
        "POST": on("handover", "handover.view", "handover.sign")},
    # Administration (issue 18): the administrator's alone. An empty form is refused (422)
    # once access has passed; a second deactivation or reactivation, or a token or session
    # already ended, answers 409. The target is an account no other row logs in with.
    ("admin.home", "/admin"): {"GET": needs("user.manage")},
    ("admin.users", "/admin/users"): {"GET": needs("user.manage")},
    ("admin.create_user", "/admin/users"): {"POST": needs("user.manage", ok={422})},
    ("admin.user", "/admin/users/<int:user_id>"): {"GET": then_lookup("user.manage", "user")},
    ("admin.update_user", "/admin/users/<int:user_id>"): {
        "POST": then_lookup("user.manage", "user", ok={422})},
    ("admin.deactivate", "/admin/users/<int:user_id>/deactivate"): {
        "POST": then_lookup("user.manage", "user", ok={409})},
    ("admin.reactivate", "/admin/users/<int:user_id>/reactivate"): {
        "POST": then_lookup("user.manage", "user", ok={409})},
    ("admin.reset_password", "/admin/users/<int:user_id>/reset-password"): {
        "POST": then_lookup("user.manage", "user")},
    ("admin.revoke_token", "/admin/users/<int:user_id>/tokens/<int:token_id>/revoke"): {
        "POST": then_lookup("user.manage", "user_token", ok={409})},
    ("admin.end_session", "/admin/users/<int:user_id>/sessions/<int:session_id>/end"): {
        "POST": then_lookup("user.manage", "user_session", ok={409})},
    ("admin.departments", "/admin/departments"): {"GET": needs("org.manage")},
    ("admin.create_department", "/admin/departments"): {"POST": needs("org.manage", ok={422})},
    ("admin.update_department", "/admin/departments/<int:department_id>"): {
        "POST": then_lookup("org.manage", "department", ok={422})},
    ("admin.projects", "/admin/projects"): {"GET": needs("org.manage")},
    ("admin.create_project", "/admin/projects"): {"POST": needs("org.manage", ok={422})},
    ("admin.update_project", "/admin/projects/<int:project_id>"): {
        "POST": then_lookup("org.manage", "project", ok={422})},
    # Corrections (issue 18, docs/corrections.md): a customer's contact data by its own
    # department or the archive room (the rest, checked on the fields changed, by the
    # archive room alone).
    ("api.correct_customer", "/api/v1/customers/<int:customer_id>"): {
        "PATCH": on("customer", "customer.view", "customer.correct_contacts",
                    payload="contact")},
    ("corrections.edit_customer", "/customers/<int:customer_id>/edit"): {
        "GET": on("customer", "customer.view", "customer.correct_contacts"),
        "POST": on("customer", "customer.view", "customer.correct_contacts",
                   payload="contact")},
    ("api.correct_dossier", "/api/v1/dossiers/<int:dossier_id>"): {
        "PATCH": on("dossier", "dossier.view", "dossier.correct", payload="location")},
    ("corrections.edit_dossier", "/dossiers/<int:dossier_id>/edit"): {
        "GET": on("dossier", "dossier.view", "dossier.correct"),
        "POST": on("dossier", "dossier.view", "dossier.correct", payload="location")},
    ("api.correct_document", "/api/v1/documents/<int:document_id>"): {
        "PATCH": on("document", "document.view", "document.correct", payload="remarks")},
    ("corrections.edit_document", "/documents/<int:document_id>/edit"): {
        "GET": on("document", "document.view", "document.correct"),
        "POST": on("document", "document.view", "document.correct", payload="remarks")},
    # 撤销归档 without a reason: refused once access has passed (422; the page flashes it).
    ("api.withdraw_document", "/api/v1/documents/<int:document_id>/withdraw"): {
        "POST": on("document", "document.view", "document.withdraw", ok={422})},
    ("corrections.withdraw_document", "/documents/<int:document_id>/withdraw"): {
        "POST": on("document", "document.view", "document.withdraw")},
    # Merging a duplicate customer without naming the other: refused once access has
    # passed (422; the page flashes it).
    ("api.merge_customer", "/api/v1/customers/<int:customer_id>/merge"): {
        "POST": on("customer", "customer.view", "customer.merge", ok={422})},
    ("corrections.merge_customer", "/customers/<int:customer_id>/merge"): {
        "POST": on("customer", "customer.view", "customer.merge")},
    # A manual reference: the archive room removes it; once removed it is not found (404;
    # the page flashes that).
    ("api.remove_reference", "/api/v1/dossiers/<int:dossier_id>/references/<int:reference_id>"): {
        "DELETE": on("reference", "dossier.view", "reference.remove", ok={404})},
    ("corrections.remove_reference",
     "/dossiers/<int:dossier_id>/references/<int:reference_id>/remove"): {
        "POST": on("reference", "dossier.view", "reference.remove")},
    # Change histories: whoever may see the object (numbers masked as on its page).
    ("api.customer_history", "/api/v1/customers/<int:customer_id>/history"): {
        "GET": on("customer", "customer.view")},
    ("api.dossier_history", "/api/v1/dossiers/<int:dossier_id>/history"): {
        "GET": on("dossier", "dossier.view")},
    ("api.document_history", "/api/v1/documents/<int:document_id>/history"): {
        "GET": on("document", "document.view")},
}

QUERY = {"/search": "?q=合同", "/api/v1/search": "?q=合同"}


# -- one archive for the whole module ---------------------------------------------------

@dataclass
class World:
    app: object
    targets: dict  # kind -> {name: (url values, object or None)}
    cookies: dict  # username -> session cookie
    tokens: dict  # username -> bearer token
    xs_department: int
    missing: dict = field(default_factory=dict)  # kind -> url values of a missing object


@pytest.fixture(scope="module")
def world(template_root, tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    databases.copy(template_root, root)
    app = create_app(TestConfig(root))
    ctx = app.app_context()
    ctx.push()
    try:
        yield _build_world(app)
    finally:
        db.session.remove()
        db.engine.dispose()
        ctx.pop()
        app.extensions["search"].close()


def _build_world(app) -> World:
    session = db.session
    users = {u.username: u for u in session.query(User).all()}
    from archive.models import Department

    depts = {d.code: d for d in session.query(Department).all()}
    officer, gm = users["officer"], users["gm"]
    limits = filing.Limits(max_bytes=2**21, max_docx_uncompressed=2**24)
    store = app.extensions["blob_store"]

    cust = {code: customers.create_customer(session, officer, {
        "name": f"矩阵客户{code}", "department": depts[code].id, "code": f"KH-MX-{code}"})
        for code in ("XS", "KF")}

    def dossier(code, level, room, actor=officer):
        return customers.create_dossier(session, actor, {
            "customer_id": cust[code].id, "project": "矩阵苑", "building": "9", "unit_no": "1",
            "room": room, "classification": str(level)}, number_format=NUMBER_FORMAT)

    dossiers = {
        "xs_public": dossier("XS", 0, "101"),
        "xs_secret": dossier("XS", 2, "102"),
        "xs_confidential": dossier("XS", 3, "103"),
        "xs_top": dossier("XS", 4, "104", actor=gm),
        "kf_internal": dossier("KF", 1, "201"),
    }

    def document(dossier_obj, level, title, actor=officer):
        return filing.file_document(
            session, actor, dossier_obj.id,
            {"title": title, "category": "销售", "classification": str(level)},
            [filing.Upload(f"{title}.pdf", PDF)], store=store, limits=limits, index=False)

    names = ["public", "internal", "secret", "confidential", "top"]
    documents = {name: document(dossiers["xs_public"], level, f"矩阵文件{name}",
                                actor=gm if level == 4 else officer)
                 for level, name in enumerate(names)}
    documents["kf"] = document(dossiers["kf_internal"], 1, "矩阵文件kf")
    # The index holds the archive, as after `make run`: an index that lacks the archive's
    # documents answers "being rebuilt" (503), not an empty result. Indexing follows the
    # commit of what the services wrote (they do not commit).
    session.commit()
    indexing.index_after_commit(session, [d.id for d in documents.values()])

    # 002:43 a person the GM designated for the 绝密 dossier; 002:67 a GM-approved grant.
    session.add(Designation(user_id=users["legal"].id, dossier_id=dossiers["xs_top"].id,
                            designated_by_id=gm.id))
    session.add(Designation(user_id=users["legal"].id, document_id=documents["top"].id,
                            designated_by_id=gm.id))
    session.add(AccessGrant(user_id=users["staff_secret"].id, department_id=depts["KF"].id,
                            valid_from=now() - timedelta(days=1),
                            valid_until=now() + timedelta(days=30), approved_by_id=gm.id))
    # Objects of the GM's and the deciders' routes, chosen so that acting on them changes
    # nobody's access to the other targets.
    from archive.models import CopyApproval
    from archive.services import classification, grants

    changing = document(dossiers["xs_public"], 1, "矩阵文件待变更")
    change = classification.request_change(session, officer, changing, "2", "矩阵测试")
    expired = AccessGrant(user_id=users["service"].id, department_id=depts["XS"].id,
                          valid_from=now() - timedelta(days=9),
                          valid_until=now() - timedelta(days=8), approved_by_id=gm.id)
    designation = Designation(user_id=gm.id, dossier_id=dossiers["xs_top"].id,
                              designated_by_id=gm.id)
    copy = CopyApproval(user_id=gm.id, document_id=documents["top"].id, approved_by_id=gm.id,
                        expires_at=now() + timedelta(days=1))
    session.add_all([expired, designation, copy])
    session.commit()

    targets = {
        "customer": {k.lower(): ({"customer_id": c.id}, c) for k, c in cust.items()},
        "dossier": {k: ({"dossier_id": d.id}, d) for k, d in dossiers.items()},
        "document": {k: ({"document_id": d.id}, d) for k, d in documents.items()},
        "file": {k: ({"document_id": d.id, "file_id": d.files[0].id}, d)
                 for k, d in documents.items()},
    }
    # A document the user may read, asked for with another document's file.
    targets["file"]["wrong_file"] = (
        {"document_id": documents["public"].id, "file_id": documents["kf"].files[0].id},
        documents["public"])
    # Requests on the engine: a level change (its requester the officer) and a
    # cross-department request with no protected subject (its requester staff).
    asked = grants.ask_access(session, users["staff"], {"customer": "矩阵客户KF",
                                                        "reason": "矩阵测试"})
    session.commit()
    # A loan of the public document, registered by the officer for staff (003:95: the
    # head decides), and a loss report on it.
    from archive.models import LossReport
    from archive.services import loans

    loan = loans.request_loan(session, officer, {
        "dossier_id": dossiers["xs_public"].id, "document_ids": [documents["public"].id],
        "kind": "read", "purpose": "矩阵测试", "borrower": "staff", "days": 3})
    report = LossReport(loan_id=loan.id, what="lost", count=1, description="矩阵测试",
                        noticed_by_id=officer.id)
    session.add(report)
    # An electronic loan of the public document with download, registered by the officer
    # for the head (002:869: approved directly): only the head opens through it.
    electronic = loans.request_loan(session, officer, {
        "dossier_id": dossiers["xs_public"].id, "document_ids": [documents["public"].id],
        "kind": "electronic", "may_download": True, "purpose": "矩阵测试", "borrower": "head",
        "days": 3})
    # A 公检法 reader of the public document, registered by the officer with the two scans.
    from archive.services import external_loans

    external = external_loans.register_external(session, officer, {
        "reader_kind": "police", "unit": "矩阵公安分局", "name": "矩阵警官",
        "credential_type": "警官证", "credential_number": "JZ-0001", "notice_number": "矩协1号",
        "dossier_id": dossiers["xs_public"].id, "document_ids": [documents["public"].id],
        "purpose": "矩阵测试", "days": 3},
        {"credential": filing.Upload("证件.pdf", PDF), "notice": filing.Upload("通知书.pdf", PDF)},
        store=store, limits=limits)
    session.commit()
    # A manual reference between two customers' dossiers, for the archive room to remove.
    manual = customers.add_reference(session, officer, dossiers["xs_public"].id,
                                     {"to_dossier_id": dossiers["kf_internal"].id})
    session.commit()
    targets.update({
        "reference": {"manual": ({"dossier_id": dossiers["xs_public"].id,
                                  "reference_id": manual.id}, dossiers["xs_public"])},
        "loan": {"read": ({"loan_id": loan.id}, loan)},
        "loan_scan": {"police": ({"loan_id": external.id, "scan_id": external.scans[0].id},
                                 external)},
        "electronic_loan": {"head": ({"loan_id": electronic.id,
                                      "document_id": documents["public"].id}, electronic)},
        "loss_report": {"open": ({"report_id": report.id}, report)},
        "route": {"level_raise": ({"route_id": change.route_id}, change.route)},
        "approval": {"level": ({"request_id": change.id}, change),
                     "access": ({"request_id": asked.id}, asked)},
        "change": {"pending": ({"change_id": change.id}, change)},
        "grant": {"expired": ({"grant_id": expired.id}, expired)},
        "designation": {"gm": ({"designation_id": designation.id}, designation)},
        "copy": {"gm": ({"approval_id": copy.id}, copy)},
    })
    missing = {
        "change": {"change_id": MISSING}, "grant": {"grant_id": MISSING},
        "approval": {"request_id": MISSING}, "route": {"route_id": MISSING},
        "loan": {"loan_id": MISSING}, "loss_report": {"report_id": MISSING},
        "loan_scan": {"loan_id": MISSING, "scan_id": MISSING},
        "electronic_loan": {"loan_id": MISSING, "document_id": MISSING},
        "designation": {"designation_id": MISSING}, "copy": {"approval_id": MISSING},
        "customer": {"customer_id": MISSING}, "dossier": {"dossier_id": MISSING},
        "document": {"document_id": MISSING},
        "file": {"document_id": MISSING, "file_id": MISSING},
        "reference": {"dossier_id": MISSING, "reference_id": MISSING},
    }

    # The administrator's targets: an account nobody here logs in with, its token and
    # session, a department and a project no other target belongs to.
    from archive.models import LoginSession, Project
    from archive.services import organisation, sessions

    target_user = accounts.create_user(session, username="matrix_target", password="Matrix-target-2026",
                                       role="staff", department_id=None, clearance=1)
    accounts.create_token(session, target_user)
    sessions.start(session, target_user)
    matrix_department = organisation.create_department(session, None, {"name": "矩阵部门",
                                                                       "code": "MX"})
    matrix_project = Project(name="矩阵旧苑")
    session.add(matrix_project)
    session.commit()
    token_row = accounts.tokens(session, target_user)[0]
    login_row = session.query(LoginSession).filter_by(user_id=target_user.id).one()
    targets.update({
        "user": {"target": ({"user_id": target_user.id}, target_user)},
        "user_token": {"target": ({"user_id": target_user.id, "token_id": token_row.id},
                                  token_row)},
        "user_session": {"target": ({"user_id": target_user.id, "session_id": login_row.id},
                                    login_row)},
        "department": {"matrix": ({"department_id": matrix_department.id}, matrix_department)},
        "project": {"matrix": ({"project_id": matrix_project.id}, matrix_project)},
    })
    missing.update({
        "user": {"user_id": MISSING}, "user_token": {"user_id": MISSING, "token_id": MISSING},
        "user_session": {"user_id": MISSING, "session_id": MISSING},
        "department": {"department_id": MISSING}, "project": {"project_id": MISSING},
    })

    # A finished import (issue 19), for its page, report and API.
    from archive.models import Import

    batch = Import(manifest_sha256="0" * 64, kind="zip", source="矩阵.zip", state="done",
                   created_by_id=users["officer"].id)
    session.add(batch)
    session.commit()
    targets["import"] = {"batch": ({"import_id": batch.id}, batch)}
    missing["import"] = {"import_id": MISSING}

    # A storage run of the 四性检测 (issue 21), for its report page and CSV.
    from archive.models import PreservationRun

    run = PreservationRun(trigger="cli", outcome="pass", failures=0, summary="{}")
    session.add(run)
    session.commit()
    targets["preservation_run"] = {"run": ({"run_id": run.id}, run)}
    missing["preservation_run"] = {"run_id": MISSING}

    # Retention (issue 17): a hold on the public document (holds stop only destruction),
    # and a batch of a complaint record long past its year, waiting for approval.
    from archive.models import LegalHold
    from archive.services import destruction

    hold = LegalHold(document_id=documents["public"].id, reason="矩阵测试",
                     placed_by_id=officer.id)
    session.add(hold)
    old = filing.file_document(session, officer, dossiers["xs_public"].id,
                               {"title": "矩阵投诉记录", "category": "投诉", "date": "2020-01-01"},
                               [], store=store, limits=limits, index=False)
    batch = destruction.propose(session, officer, {"items": [old.id], "reason": "矩阵测试"})
    session.commit()
    # Transfers (issue 19): a paper record staff filed (销售经营部's custody) in a draft
    # batch, and a handover of service's to service_head with nothing outstanding.
    from archive.services import transfers

    held = filing.file_document(session, users["staff"], dossiers["xs_public"].id,
                                {"title": "矩阵待移交", "category": "其他"}, [],
                                store=store, limits=limits, index=False)
    transfer = transfers.create(session, users["staff"], {"items": [held.id]})
    handover = transfers.open_handover(session, officer, {
        "person": "service", "receiver": "service_head", "kind": "move"})
    session.commit()
    targets.update({
        "transfer": {"draft": ({"batch_id": transfer.id}, transfer)},
        "handover": {"service": ({"handover_id": handover.id}, handover)},
    })
    missing.update({"transfer": {"batch_id": MISSING}, "handover": {"handover_id": MISSING}})
    targets.update({
        "hold": {"public": ({"hold_id": hold.id}, hold)},
        "destruction": {"pending": ({"batch_id": batch.id, "document_id": old.id}, batch)},
    })
    missing.update({"hold": {"hold_id": MISSING},
                    "destruction": {"batch_id": MISSING, "document_id": MISSING}})

    cookies, tokens = {}, {}
    for name in ROLES:
        client = app.test_client()
        response = client.post("/login", data={"username": name, "password": PASSWORDS[name]})
        assert response.status_code == 302, name
        cookies[name] = client.get_cookie("session").value
        with work.unit(session):
            tokens[name] = accounts.create_token(session, users[name])
    return World(app=app, targets=targets, cookies=cookies, tokens=tokens,
                 xs_department=depts["XS"].id, missing=missing)


# -- requests ---------------------------------------------------------------------------

def _url(rule: str, values: dict) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule)


def _payload(world, kind, user: User | None, values: dict) -> dict:
    n = next(_counter)
    department = user.department_id if user and user.department_id else world.xs_department
    if kind == "login":
        return {"username": "officer", "password": PASSWORDS["officer"]}
    if kind == "password":
        return {"old": "not-the-password-1", "new": "Matrix-pass-2026", "confirm": "Matrix-pass-2026"}
    if kind == "customer":
        return {"name": f"矩阵新客户{n}", "kind": "person", "department": department}
    if kind == "dossier":
        return {"customer_id": values.get("customer_id", MISSING), "project": "矩阵新苑",
                "building": "1", "unit_no": "1", "room": str(n), "classification": "0"}
    if kind == "document":
        return {"title": f"矩阵纸质文件{n}", "category": "其他", "classification": "0"}
    if kind == "level":
        return {"to": "2", "reason": "矩阵测试"}
    if kind == "reference":
        return {"to_dossier_id": str(values.get("dossier_id")), "kind": "related"}
    if kind == "contact":
        return {"phone": f"1380000{n:04d}"}
    if kind == "bad_date":
        return {"closed_on": "not-a-date"}
    if kind == "location":
        return {"location": f"矩阵库 {n}"}
    if kind == "remarks":
        return {"remarks": f"矩阵备注 {n}"}
    return {}


def _error_message(response) -> str:
    """What a 5xx said: the JSON error, or the error page's message (its head tells
    nothing), so that a rare failure names its cause."""
    if response.is_json:
        return str(response.get_json())
    body = response.get_data(as_text=True)
    found = re.search(r'<p class="error-message">(.*?)</p>', body, re.S)
    return found.group(1).strip() if found else body[-600:]


def _call(world: World, username, method: str, rule: str, spec: Rule, values: dict):
    client = world.app.test_client()
    api = rule.startswith("/api/")
    headers = {}
    if username and api:
        headers["Authorization"] = f"Bearer {world.tokens[username]}"
    elif username and rule in ("/logout", "/login"):
        # Logging out, or in again, ends the session on the server: log in afresh, so
        # the shared cookie stays good for every other call.
        response = client.post("/login", data={"username": username,
                                                "password": PASSWORDS[username]})
        assert response.status_code == 302, username
    elif username:
        client.set_cookie("session", world.cookies[username])
    user = db.session.query(User).filter_by(username=username).one() if username else None
    path_values = {k: v for k, v in values.items() if f"<int:{k}>" in rule}
    if "<code>" in rule:
        path_values["code"] = "zh_CN"
    if "<day>" in rule:
        path_values["day"] = CALENDAR_DAY
    url = _url(rule, path_values) + QUERY.get(rule, "")
    data = _payload(world, spec.payload, user, values) if spec.payload else None
    if api and method in ("POST", "PUT", "PATCH") and spec.payload != "document":
        return client.open(url, method=method, json=data or {}, headers=headers)
    return client.open(url, method=method, data=data, headers=headers)


def _expected(user, spec: Rule, obj, exists: bool):
    """(status class, hidden): 'ok', 403 or 404; hidden means 'as for a missing id'."""
    for check in spec.checks:
        if check.on and not exists:
            return 404, True
        if check.action == "exists":
            continue
        subject = check.subject(obj)
        if not access.can(user, check.action, subject):
            hidden = subject is not None and check.action.endswith((".view", ".read"))
            return (404, True) if hidden else (403, False)
    return "ok", False


def _normalise(body: bytes) -> bytes:
    return re.sub(rb'name="csrf_token" value="[^"]*"|csrf-token" content="[^"]*"', b"", body)


def _cases():
    for (endpoint, rule), methods in ROUTES.items():
        for method in methods:
            yield pytest.param(endpoint, rule, method, id=f"{method} {rule}")


@pytest.mark.parametrize("endpoint, rule, method", list(_cases()))
@pytest.mark.parametrize("username", PRINCIPALS, ids=lambda u: u or "anonymous")
def test_route_access(world, endpoint, rule, method, username):
    spec = ROUTES[(endpoint, rule)][method]
    api = rule.startswith("/api/")
    if spec.target:
        targets = [(name, values, obj) for name, (values, obj) in world.targets[spec.target].items()]
        missing = world.missing[spec.target]
    else:
        targets, missing = [("-", {}, None)], None
    if username is None:
        targets = targets[:1]  # signed out, every object is answered alike
    user = db.session.query(User).filter_by(username=username).one() if username else None
    failures = []
    missing_body = None
    if missing is not None and username and not spec.public:
        answer = _call(world, username, method, rule, spec, missing)
        expected, hidden = _expected(user, spec, None, False)
        if answer.status_code != expected:
            failures.append(f"missing id: {answer.status_code}, expected {expected}")
        elif hidden:
            missing_body = _normalise(answer.data)
    for name, values, obj in targets:
        # Before the call: a successful decision may change what the target allows.
        if name == "wrong_file":  # refused or not, the file is not found
            expected, hidden = 404, True
        else:
            expected, hidden = _expected(user, spec, obj, True)
        response = _call(world, username, method, rule, spec, values)
        status = response.status_code
        where = f"{name}: {status}"
        assert status < 500, f"{where} {_error_message(response)}"
        if spec.public:
            if not 200 <= status < 400:
                failures.append(where)
            continue
        if username is None:
            if api:
                if status != 401 or response.get_json()["error"]["code"] != "unauthorized":
                    failures.append(f"{where} (anonymous API must get 401 JSON)")
            elif status != 302 or not response.headers["Location"].startswith("/login"):
                failures.append(f"{where} (anonymous page must redirect to /login)")
            continue
        if expected == "ok":
            if not (200 <= status < 400 or status in spec.ok):
                failures.append(f"{where}, expected success {response.data[:200]!r}")
            elif status == 302 and "/login" in response.headers.get("Location", "") \
                    and endpoint != "auth.logout":
                failures.append(f"{where}, signed-in user sent to the login page")
            continue
        if status != expected:
            failures.append(f"{where}, expected {expected}")
            continue
        if api:
            code = response.get_json()["error"]["code"]
            if code != ("not_found" if expected == 404 else "forbidden"):
                failures.append(f"{where}, error code {code}")
        if hidden and missing_body is not None:
            if _normalise(response.data) != missing_body:
                failures.append(f"{where}, body differs from the missing id's")
            if obj is not None:
                for leak in _secrets_of(obj):
                    if leak.encode() in response.data:
                        failures.append(f"{where}, body names {leak}")
    assert not failures, f"{method} {rule} as {username or 'anonymous'}: {failures}"


def _secrets_of(obj) -> list[str]:
    words = [getattr(obj, "title", ""), getattr(obj, "number", ""), getattr(obj, "name", ""),
             getattr(obj, "code", ""), getattr(obj, "reason", "")]
    return [w for w in words if w]


def test_every_route_is_classified(world):
    """A new route must be added to ROUTES with the permissions it checks."""
    found = {}
    for rule in world.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        found.setdefault((rule.endpoint, rule.rule), set()).update(
            rule.methods - {"HEAD", "OPTIONS"})
    table = {key: set(methods) for key, methods in ROUTES.items()}
    unclassified = {k: sorted(v) for k, v in found.items() if table.get(k) != v}
    gone = sorted(set(table) - set(found))
    assert not unclassified and not gone, (
        f"routes not (or differently) in ROUTES: {unclassified}; in ROUTES but gone: {gone}")


# -- the rules themselves, independent of the table -------------------------------------

VISIBLE_DOCUMENTS = {
    # 公开 内部 秘密 机密 in XS, 绝密 in XS (legal designated for its dossier), 内部 in KF
    "officer": {"public", "internal", "secret", "confidential", "kf"},
    "staff": {"public", "internal"},
    "service": {"kf"},
    "head": {"public", "internal", "secret"},
    "gmoffice": {"public", "internal", "secret", "confidential", "kf"},
    "legal": {"top"},
    "gm": {"public", "internal", "secret", "confidential", "top", "kf"},
    "auditor": {"public", "internal", "secret", "confidential", "kf"},
    "admin": set(),
    "staff_public": {"public"},
    "staff_secret": {"public", "internal", "secret", "kf"},
    "service_head": {"kf"},
}


@pytest.mark.parametrize("username", ROLES)
def test_who_sees_which_document(world, username):
    """The access rules of access.py's docstring, written out per person."""
    user = db.session.query(User).filter_by(username=username).one()
    seen = {name for name, (_, doc) in world.targets["document"].items()
            if access.can(user, "document.view", doc)}
    assert seen == VISIBLE_DOCUMENTS[username]


def test_auditor_changes_nothing(world):
    """Auditors are read-only: every state-changing route refuses them (except their own
    session and password, and the 签名检查点 button, which changes no record: it signs the
    audit trail's head as it is)."""
    auditor = db.session.query(User).filter_by(username="auditor").one()
    for (endpoint, rule), methods in ROUTES.items():
        spec = methods.get("POST")
        if spec is None or spec.public or not spec.checks or endpoint == "audit.sign":
            continue
        obj = next(iter(world.targets[spec.target].values()))[1] if spec.target else None
        expected, _ = _expected(auditor, spec, obj, True)
        assert expected == 403, rule
