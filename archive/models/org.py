"""Departments, users, API tokens and the access grants the GM approves."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.clock import now
from archive.extensions import db
from archive.models.enums import Level, Role


class Department(db.Model):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    # A receiving unit of transfers (移交接收单位) for these categories ("销售,签约"; "*"
    # every one), as 客户事务组 receives the sales site's material (000:750); "" if none.
    receives: Mapped[str] = mapped_column(String(200), default="", server_default="")

    def receives_category(self, category: str) -> bool:
        names = [c.strip() for c in self.receives.split(",") if c.strip()]
        return "*" in names or category in names

    def __repr__(self) -> str:
        return f"<Department {self.name}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    clearance: Mapped[int] = mapped_column(default=int(Level.INTERNAL))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # 总经理办公室主任 (002:942, 002:946): a designation on a GM-office user, not a role.
    gm_office_director: Mapped[bool] = mapped_column(default=False)
    # Bumped on password change: every session carrying an older value is logged out.
    session_version: Mapped[int] = mapped_column(default=1)
    # Set when an administrator resets the password to a one-time one: every page but
    # the password form sends the user there until the password is changed.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)

    department: Mapped[Department | None] = relationship()

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def level(self) -> Level:
        return Level(self.clearance)

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()


class AccessGrant(db.Model):
    """A time-limited permission, approved by the GM, to read another department's
    customer files (002:67): a whole department's, or one customer's."""

    __tablename__ = "access_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    valid_from: Mapped[datetime] = mapped_column(default=now)
    valid_until: Mapped[datetime]
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    # The approval request it answers (None: the GM granted it directly).
    request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    approved_by: Mapped[User] = relationship(foreign_keys=[approved_by_id])
    department: Mapped[Department | None] = relationship()


class Designation(db.Model):
    """A person the GM designated to know a 绝密 dossier or document (002:43)."""

    __tablename__ = "designations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    designated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    designated_by: Mapped[User] = relationship(foreign_keys=[designated_by_id])


class CopyApproval(db.Model):
    """The GM's approval for one person to download, print or copy one 绝密 document
    until a given time (002:45: no excerpt or copy of 绝密 material without it)."""

    __tablename__ = "copy_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    approved_by: Mapped[User] = relationship(foreign_keys=[approved_by_id])
