"""A restore into the instance folder that survived the loss of its database (the audit
key and the checkpoint file still there, as docs/audit.md advises): the checkpoints the
old file signed after the backup name events the restore cannot bring back, so the file
is set aside (kept, named) instead of turning every later verification into a false
alarm of tampering."""

import shutil
from pathlib import Path

from archive import create_app
from archive.services import audit_anchor
from config import TestConfig
from tests.test_audit_anchor import _anchor, _backup_and_empty_instance, _record, _run


def test_a_restore_sets_aside_the_checkpoints_signed_after_the_backup(
        app, users, tmp_path, tmp_path_factory, make_customer, make_dossier, file_doc):
    dest, root = _backup_and_empty_instance(app, users, tmp_path, tmp_path_factory,
                                            make_customer, make_dossier, file_doc)
    _record(users, 5)
    _anchor(app)  # a checkpoint signed after the backup, of events it does not hold
    instance = Path(app.config["INSTANCE_DIR"])
    (root / "instance").mkdir()
    for name in ("audit_key", audit_anchor.FILE_NAME):  # the folder that survived
        shutil.copy(instance / name, root / "instance" / name)
    old_lines = (instance / audit_anchor.FILE_NAME).read_text().splitlines()
    other = create_app(TestConfig(root))
    restored = _run(other, "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    assert "审计检查点文件" in restored.output
    [kept] = (root / "instance").glob(f"{audit_anchor.FILE_NAME}.before-restore-*")
    assert kept.read_text().splitlines() == old_lines  # set aside whole, never edited
    for args in (("verify-audit",), ("verify-audit", "--full"), ("verify-audit",)):
        result = _run(other, *args)
        assert result.exit_code == 0, result.output
