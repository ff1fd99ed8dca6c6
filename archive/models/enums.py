"""The archive's fixed vocabularies. Stored by key; shown by their Chinese label."""

import enum


class Level(enum.IntEnum):
    """密级 classification, in rising order (002:29-47); also a user's clearance."""

    PUBLIC = 0  # 公开
    INTERNAL = 1  # 内部 — the company "c级", default for customer files (000:742)
    SECRET = 2  # 秘密
    CONFIDENTIAL = 3  # 机密
    TOP_SECRET = 4  # 绝密

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]

    @property
    def key(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value) -> "Level":
        """Accept a Level, its int, its key (`secret`) or its Chinese name (`秘密`)."""
        if isinstance(value, Level):
            return value
        if isinstance(value, bool):  # JSON true is not level 1
            raise ValueError(str(value))
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdecimal()):
            return cls(int(value))
        text = str(value).strip()
        for level in cls:
            if text in (level.key, level.label, level.name):
                return level
        if text.lower() in ("c", "c级"):
            return cls.INTERNAL
        raise ValueError(text)


LEVEL_LABELS = {
    Level.PUBLIC: "公开",
    Level.INTERNAL: "内部",
    Level.SECRET: "秘密",
    Level.CONFIDENTIAL: "机密",
    Level.TOP_SECRET: "绝密",
}


class Role(enum.StrEnum):
    OFFICER = "officer"  # 档案员
    STAFF = "staff"
    DEPT_HEAD = "dept_head"
    GM_OFFICE = "gm_office"
    LEGAL = "legal"
    GM = "gm"  # 总经理 / 副总经理
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.OFFICER: "档案员",
    Role.STAFF: "员工",
    Role.DEPT_HEAD: "部门负责人",
    Role.GM_OFFICE: "总经理办公室",
    Role.LEGAL: "法律室",
    Role.GM: "总经理/副总经理",
    Role.AUDITOR: "审计员",
    Role.ADMIN: "系统管理员",
}

# 000:660-676
CATEGORIES = ("销售", "签约", "办证", "入伙", "维修", "赔付", "诉讼", "商铺租赁", "投诉", "其他")
# 000:658
CARRIERS = ("纸质", "电子", "照片", "录音", "录像")


class Retention(enum.StrEnum):
    """保管期限 (003:89)."""

    PERMANENT = "永久"
    LONG = "长期"
    SHORT = "短期"


# The groups of 000:816-828 (it announces six and lists five).
GROUPS = {
    "a": "销售、签约、办证及入伙资料",
    "b": "维修/赔付资料",
    "c": "其他资料",
    "d": "出租期资料",
    "e": "销售历史资料",
}

# A litigation case file (000:824) is its own volume, in filing order, without the
# customer groups: its one group has this code.
CASE_GROUP = "k"
CASE_GROUP_NAME = "案卷文件"

# Where a document goes when the officer does not choose a group.
DEFAULT_GROUP_FOR_CATEGORY = {
    "销售": "a",
    "签约": "a",
    "办证": "a",
    "入伙": "a",
    "维修": "b",
    "赔付": "b",
    "诉讼": "c",
    "其他": "c",
    "商铺租赁": "d",
    "投诉": "c",
}

class DossierStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ON_LOAN = "on_loan"
    DESTROYED = "destroyed"


class DocumentStatus(enum.StrEnum):
    ACTIVE = "active"
    # 撤销归档: filed by mistake (wrong customer, filed twice) and taken out of the lists
    # and search by the archive room; the row, its number and its files stay.
    WITHDRAWN = "withdrawn"
    PURGING = "purging"  # 待清除: a tombstone whose bytes and index entries are being purged
    DESTROYED = "destroyed"


class TextStatus(enum.StrEnum):
    """Outcome of text extraction for one stored file."""

    OK = "ok"
    EMPTY = "empty"  # readable, but no text layer (a scan)
    FAILED = "failed"  # "text not extracted", with the reason kept
    SKIPPED = "skipped"  # not a text format (image, audio, video)
