"""Configuration classes. Every setting can come from the environment.

DefaultConfig runs on embedded defaults (SQLite, ./storage, ./instance/index);
TestConfig is what the test suite uses; ProductionConfig adds the settings a
deployment behind TLS needs.
"""

import hashlib
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", BASE_DIR / "instance"))


def _secret_key(instance_dir: Path, variable: str = "SECRET_KEY",
                file_name: str = "secret_key") -> str:
    """A key from the environment, or one generated once and kept in instance/ (SECRET_KEY;
    AUDIT_KEY, which signs the audit chain's checkpoints and is never in the database)."""
    from_env = os.environ.get(variable)
    if from_env:
        return from_env
    instance_dir.mkdir(parents=True, exist_ok=True)
    key_file = instance_dir / file_name
    if not key_file.exists():
        # O_EXCL: two workers starting together must agree on one key.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return key_file.read_text().strip()


class DefaultConfig:
    INSTANCE_DIR = INSTANCE_DIR
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'archive.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    STORAGE_DIR = Path(os.environ.get("STORAGE_DIR", BASE_DIR / "storage"))
    # The dashboard warns officers and administrators when STORAGE_DIR's disk has less
    # free than either of these (or the last write found it full).
    STORAGE_MIN_FREE_MB = int(os.environ.get("STORAGE_MIN_FREE_MB", "1024"))
    STORAGE_MIN_FREE_PERCENT = float(os.environ.get("STORAGE_MIN_FREE_PERCENT", "5"))
    INDEX_DIR = Path(os.environ.get("INDEX_DIR", INSTANCE_DIR / "index"))
    SEARCH_BACKEND = os.environ.get("SEARCH_BACKEND", "tantivy")
    # Uploads leave their index write to a batch writer that waits this long for the rest
    # of a burst (services/index_batches.py); 0 indexes each upload in its own request.
    INDEX_BATCH_SECONDS = float(os.environ.get("INDEX_BATCH_SECONDS", "0.5"))
    MAX_UPLOAD_MB = int(os.environ.get("MAX_UPLOAD_MB", "100"))
    # A DOCX is a zip: refuse one whose parts would expand past this before parsing it.
    MAX_DOCX_UNCOMPRESSED_MB = int(os.environ.get("MAX_DOCX_UNCOMPRESSED_MB", "200"))
    # Dossier number from the unit's parts (000:812-814: one form for the whole archive).
    DOSSIER_NUMBER_FORMAT = os.environ.get(
        "DOSSIER_NUMBER_FORMAT", "{project}-{building}栋{unit}单元{room}"
    )
    # A customer code given by the archive when none is typed: {year} (the registration
    # year) and {seq} (the next number under that prefix; width as in {seq:04d}).
    CUSTOMER_CODE_FORMAT = os.environ.get("CUSTOMER_CODE_FORMAT", "KH{year}{seq:04d}")
    COMPANY_NAME = os.environ.get("COMPANY_NAME", "深圳市卷宗房地产有限公司")
    # The zone every page, printed form, CSV and API answer shows times in (a zoneinfo
    # name; an unknown one stops the app at start-up): docs/timezone-and-docx.md.
    ARCHIVE_TIMEZONE = os.environ.get("ARCHIVE_TIMEZONE", "Asia/Shanghai")
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_SUPPORTED_LOCALES = ("zh_CN", "en")
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "archive" / "translations")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    # Inactivity after which a session must log in again (minutes).
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
    # The cookie's lifetime (the idle time) is renewed when the server notes the session's
    # activity (archive.auth), at most once a minute, not re-signed on every page.
    SESSION_REFRESH_EACH_REQUEST = False
    WTF_CSRF_TIME_LIMIT = None
    # Failed-login counters shared by every worker and kept across restarts
    # (archive/limits_storage.py); redis://… where Redis runs.
    RATELIMIT_STORAGE_URI = os.environ.get(
        "RATELIMIT_STORAGE_URI", f"counters+sqlite:///{INSTANCE_DIR / 'ratelimits.db'}"
    )
    RATELIMIT_ENABLED = True
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "20 per 15 minutes")
    PER_PAGE = 20
    # The longest a loan may run, by the level of what is lent (issue 16): calendar days,
    # except 机密, counted in working days (archive/services/workdays.py).
    LOAN_DAYS = int(os.environ.get("LOAN_DAYS", "14"))
    LOAN_CONFIDENTIAL_WORKDAYS = int(os.environ.get("LOAN_CONFIDENTIAL_WORKDAYS", "5"))
    LOAN_TOP_SECRET_DAYS = int(os.environ.get("LOAN_TOP_SECRET_DAYS", "3"))
    # The background job queue (OCR): huey on SQLite under instance/, or redis://… once
    # the archive runs on more than one machine (archive/worker.py, docs/ocr.md).
    JOB_QUEUE_URL = os.environ.get("JOB_QUEUE_URL", f"sqlite:///{INSTANCE_DIR / 'queue.db'}")
    # Threads each OCR worker's engine may use (the web server shares the cores), and how
    # long a worker may go silent before its job is presumed lost and queued again.
    OCR_THREADS = int(os.environ.get("OCR_THREADS", "1"))
    OCR_LEASE_SECONDS = int(os.environ.get("OCR_LEASE_SECONDS", "300"))
    # The nightly 四性 storage check runs once across workers under this lease (renewed
    # while it hashes the blobs): a worker killed mid-run is taken over after it.
    NIGHTLY_LEASE_SECONDS = int(os.environ.get("NIGHTLY_LEASE_SECONDS", "1800"))
    # DOCX access copies (services/conversion.py): the LibreOffice binary (default: soffice
    # on the PATH) and how long one conversion may run before it is killed (under the lease).
    SOFFICE_BINARY = os.environ.get("SOFFICE_BINARY", "")
    CONVERSION_TIMEOUT_SECONDS = int(os.environ.get("CONVERSION_TIMEOUT_SECONDS", "120"))
    # The audit chain's head is signed with AUDIT_KEY every this many events, besides at
    # every verify-audit (docs/audit.md).
    AUDIT_CHECKPOINT_EVERY = int(os.environ.get("AUDIT_CHECKPOINT_EVERY", "1000"))
    TESTING = False

    def __init__(self):
        self.SECRET_KEY = _secret_key(Path(self.INSTANCE_DIR))
        self.AUDIT_KEY = _secret_key(Path(self.INSTANCE_DIR), "AUDIT_KEY", "audit_key")

    @property
    def MAX_CONTENT_LENGTH(self) -> int:
        # Room for the multipart envelope and form fields around the file itself.
        return self.MAX_UPLOAD_MB * 1024 * 1024 + 64 * 1024


class TestConfig(DefaultConfig):
    """Isolated directories under a temporary root given by the test fixture."""

    __test__ = False  # not a pytest test class

    TESTING = True
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SEARCH_BACKEND = os.environ.get("TEST_SEARCH_BACKEND", "tantivy")
    # Each upload indexed in its request: a batch writer's thread writing beside a test
    # would race its assertions; tests/test_index_batches.py turns it on.
    INDEX_BATCH_SECONDS = 0.0
    MAX_UPLOAD_MB = 2
    MAX_DOCX_UNCOMPRESSED_MB = 20

    def __init__(self, root: Path | None = None):
        root = Path(root) if root else Path(os.environ.get("TEST_ROOT", "/tmp/juanzong-test"))
        self.INSTANCE_DIR = root / "instance"
        self.STORAGE_DIR = root / "storage"
        self.INDEX_DIR = root / "index"
        self.SQLALCHEMY_DATABASE_URI = self.database_url(root)
        self.RATELIMIT_STORAGE_URI = f"counters+sqlite:///{root / 'ratelimits.db'}"
        self.JOB_QUEUE_URL = f"sqlite:///{root / 'queue.db'}"
        self.SECRET_KEY = "test-only-key"
        # A real key file per instance: a test restores an archive with it or without it.
        self.AUDIT_KEY = _secret_key(self.INSTANCE_DIR, "AUDIT_KEY", "audit_key")


    @staticmethod
    def database_url(root: Path) -> str:
        """A test instance's database: archive.db under `root`, or, when TEST_DATABASE_URL
        names a PostgreSQL server (`make test-postgres`), a database there named after
        `root`, so that every app and process built on one root shares it, as with the file.
        Not DATABASE_URL: a shell pointed at a real archive must not run tests against it."""
        named = Path(root) / "database.url"  # a database reused between tests (tests/databases.py)
        if named.is_file():
            return named.read_text().strip()
        server = os.environ.get("TEST_DATABASE_URL")
        if not server:
            return f"sqlite:///{Path(root) / 'archive.db'}"
        from sqlalchemy.engine import make_url

        name = "jz_" + hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:20]
        return make_url(server).set(database=name).render_as_string(hide_password=False)


class ProductionConfig(DefaultConfig):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
