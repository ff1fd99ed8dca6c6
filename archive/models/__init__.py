"""Models, one module per aggregate.

Glossary — one English name per domain term:
    档案 / 卷宗      dossier            卷内目录   volume index
    卷内备考表       remarks sheet      封面       cover
    组               group (a–e)        顺序号     sequence number (seq)
    文件             document           载体       carrier
    密级             classification     保管期限   retention
    借阅             loan               销毁       destruction
    移交             transfer           参照       (dossier) reference
    立卷人 / 检查人  compiled_by / checked_by
    一户一档         one dossier per customer and unit
    审批             approval (request) 审批路线   approval route
    审批步骤         approval step      待审批     inbox
    总经理办公室主任 GM-office director (a designation on a GM-office user, not a role)
"""

from archive.models.approval import (
    ApprovalKind,
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStep,
    Approver,
    RequestStatus,
    RouteStep,
)
from archive.models.audit import AuditCheckpoint, AuditEvent, AuditHead
from archive.models.calendar import CalendarDay, DayKind
from archive.models.customer import Customer, Dossier, DossierReference, Group, Unit
from archive.models.document import Document, StoredFile, UploadKey
from archive.models.enums import Level, Role
from archive.models.external_loan import ExternalReader, LoanCopy, LoanFile, ReaderKind
from archive.models.imports import Import, ImportRow, ImportState
from archive.models.job import Job, JobState, NightlyRun
from archive.models.loan import Loan, LoanItem, LoanKind, LoanStatus, LossReport
from archive.models.org import (
    AccessGrant,
    ApiToken,
    CopyApproval,
    Department,
    Designation,
    User,
)
from archive.models.preservation import PreservationCheck, PreservationRun
from archive.models.project import Project
from archive.models.retention import (
    Appraisal,
    Destruction,
    DestructionItem,
    LegalHold,
    RegisterEntry,
    RetentionRule,
)
from archive.models.session import LoginSession
from archive.models.setting import Setting, UtcCutover, utc_cutover
from archive.models.transfer import (
    Custody,
    Handover,
    TransferBatch,
    TransferItem,
    TransferRule,
)

__all__ = [
    "AccessGrant",
    "Appraisal",
    "ApiToken",
    "ApprovalKind",
    "ApprovalRequest",
    "ApprovalRoute",
    "ApprovalStep",
    "Approver",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "CalendarDay",
    "CopyApproval",
    "Custody",
    "Customer",
    "DayKind",
    "Department",
    "Designation",
    "Destruction",
    "DestructionItem",
    "Document",
    "Dossier",
    "DossierReference",
    "ExternalReader",
    "Group",
    "Handover",
    "Import",
    "ImportRow",
    "ImportState",
    "Job",
    "JobState",
    "LegalHold",
    "Level",
    "Loan",
    "LoanCopy",
    "LoanFile",
    "LoanItem",
    "LoanKind",
    "LoanStatus",
    "LossReport",
    "NightlyRun",
    "PreservationCheck",
    "PreservationRun",
    "Project",
    "ReaderKind",
    "RegisterEntry",
    "RequestStatus",
    "RouteStep",
    "LoginSession",
    "RetentionRule",
    "Role",
    "Setting",
    "StoredFile",
    "TransferBatch",
    "TransferItem",
    "TransferRule",
    "Unit",
    "UploadKey",
    "User",
    "UtcCutover",
    "utc_cutover",
]
