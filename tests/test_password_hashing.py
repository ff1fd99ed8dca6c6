"""The passwords' real argon2 parameters. The other tests hash with the cheapest ones
(tests/conftest.py, TEST_HASHER, for speed); here the product's own hasher is put back."""

import pytest

from archive.extensions import db
from archive.models import User
from archive.services import accounts
from tests.conftest import PASSWORDS, REAL_HASHER, TEST_HASHER, login

# argon2id, 64 MiB, 3 passes, 4 lanes: argon2-cffi's defaults (RFC 9106's second choice).
REAL_PREFIX = "$argon2id$v=19$m=65536,t=3,p=4$"


@pytest.fixture
def real_hasher(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", REAL_HASHER)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", REAL_HASHER.hash("no-such-user-password"))


def _hash_of(username: str) -> str:
    db.session.expire_all()
    return db.session.query(User.password_hash).filter_by(username=username).scalar()


def test_the_product_hashes_with_argon2id_at_64_mib_and_3_passes():
    assert REAL_HASHER.hash("Jz2026-some-password").startswith(REAL_PREFIX)
    assert not TEST_HASHER.hash("Jz2026-some-password").startswith(REAL_PREFIX)


def test_a_login_rehashes_a_weaker_hash_to_the_real_parameters(app, client, real_hasher):
    assert not _hash_of("staff").startswith(REAL_PREFIX)  # made by the tests' cheap hasher

    assert login(client, "staff").status_code == 302
    upgraded = _hash_of("staff")
    assert upgraded.startswith(REAL_PREFIX)
    assert REAL_HASHER.verify(upgraded, PASSWORDS["staff"])

    client.post("/logout")
    assert login(client, "staff", "Jz2026-wrong-one").status_code == 401
    assert _hash_of("staff") == upgraded
    assert login(client, "staff").status_code == 302
    assert _hash_of("staff") == upgraded  # already right: not hashed again


def test_a_new_account_gets_the_real_parameters(app, real_hasher):
    with db.session.begin_nested():
        user = accounts.create_user(db.session, username="newcomer", password="Jz2026-arrival",
                                    role="staff", department_id=None,
                                    clearance=accounts.Level.PUBLIC)
    assert user.password_hash.startswith(REAL_PREFIX)
    assert accounts.authenticate(db.session, "newcomer", "Jz2026-arrival") is user
