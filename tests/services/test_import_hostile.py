"""Hostile input to the bulk import is refused with the reason (issue 19): paths that
escape the folder, symbolic links, a manifest outside the folder, ZIP bombs, ZIPs of too
many entries, links, encrypted entries and escaping names in a ZIP. Nothing is filed,
nothing is unpacked."""

import io
import os
import stat
import unicodedata
import zipfile

import pytest

from archive import samples
from archive.extensions import db
from archive.models import Document, Import
from archive.services import import_sources
from archive.services.errors import Invalid, TooLarge
from tests.conftest import archive_state
from tests.import_folders import gbk_names, row, write_manifest

LIMITS = import_sources.ZipLimits(max_entries=10, max_total_bytes=2 * 2**20)


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["import", *map(str, args)])


def test_paths_that_leave_the_folder_and_symbolic_links_refuse_their_rows(app, cli, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = samples.make_pdf("别人的文件", ["导入目录之外的文件"])
    (outside / "secret.pdf").write_bytes(secret)
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "link.pdf").symlink_to(outside / "secret.pdf")
    (folder / "linked-dir").symlink_to(outside)
    write_manifest(folder, [
        row("上级目录", "../outside/secret.pdf"),
        row("绝对路径", str(outside / "secret.pdf")),
        row("盘符路径", "C:\\outside\\secret.pdf"),
        row("文件链接", "link.pdf"),
        row("目录链接", "linked-dir/secret.pdf"),
        row("反斜杠上级", "..\\outside\\secret.pdf"),
    ])
    before = archive_state(app)
    result = cli(folder, "--user", "officer")
    assert result.exit_code == 0, result.output
    assert "归档 0 行，跳过（已归档）0 行，拒收 6 行" in result.output
    reasons = [r.reason for r in db.session.query(Import).one().rows]
    assert ["“..”" in reasons[0], "绝对路径" in reasons[1], "绝对路径" in reasons[2],
            "符号链接" in reasons[3], "符号链接" in reasons[4], "“..”" in reasons[5]] == [True] * 6
    after = archive_state(app)
    assert {k: after[k] for k in ("documents", "files", "blobs")} == {
        k: before[k] for k in ("documents", "files", "blobs")}


def test_a_manifest_outside_the_folder_or_a_linked_one_is_refused(app, cli, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    write_manifest(tmp_path, [row("纸质文件")], name="outside.csv")
    (folder / "manifest.csv").symlink_to(tmp_path / "outside.csv")
    before = archive_state(app)
    escaped = cli(folder, "--user", "officer", "--manifest", "../outside.csv")
    assert escaped.exit_code == 1 and "“..”" in escaped.output
    linked = cli(folder, "--user", "officer")
    assert linked.exit_code == 1 and "符号链接" in linked.output
    assert archive_state(app) == before and db.session.query(Import).count() == 0


def _zip(entries: dict[str, bytes], **info) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            entry = zipfile.ZipInfo(name)
            entry.compress_type = zipfile.ZIP_DEFLATED
            for key, value in info.get(name, {}).items():
                setattr(entry, key, value)
            archive.writestr(entry, data)
    data = out.getvalue()
    if any(i.get("flag_bits") for i in info.values()):
        # zipfile writes its own flags: set the "encrypted" bit in both headers by hand.
        data = bytearray(data)
        for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = data.index(signature) + offset
            data[at] |= 0x1
        data = bytes(data)
    return data


@pytest.mark.parametrize("entries, info, error, message", [
    ({f"f{i}.txt": b"x" for i in range(11)}, {}, TooLarge, "压缩包中的文件过多：11 个"),
    ({"a.bin": os.urandom(1200 * 1024), "b.bin": os.urandom(1200 * 1024)}, {}, TooLarge,
     "压缩包解压后过大"),
    ({"zeros.bin": bytes(2 * 2**20 - 10)}, {}, TooLarge, "压缩比异常"),
    ({"../evil.pdf": b"x"}, {}, Invalid, "不能包含“..”"),
    ({"/etc/evil.pdf": b"x"}, {}, Invalid, "绝对路径"),
    ({"C:/evil.pdf": b"x"}, {}, Invalid, "绝对路径"),
    ({"link.pdf": b"/etc/passwd"}, {"link.pdf": {"external_attr": (stat.S_IFLNK | 0o777) << 16}},
     Invalid, "符号链接"),
    ({"locked.pdf": b"x"}, {"locked.pdf": {"flag_bits": 0x1}}, Invalid, "已加密"),
    ({"a.pdf": b"x", "./a.pdf": b"y"}, {}, Invalid, "重名"),
], ids=["entries", "total", "ratio", "dotdot", "absolute", "drive", "symlink", "encrypted",
        "duplicate"])
def test_a_hostile_zip_is_refused_before_anything_is_unpacked(tmp_path, entries, info, error,
                                                              message):
    path = tmp_path / "upload.zip"
    path.write_bytes(_zip(entries, **info))
    with pytest.raises(error) as refused:
        import_sources.check_zip(path, LIMITS)
    assert message in refused.value.message
    with pytest.raises(error):
        import_sources.unpack(path, tmp_path / "out", LIMITS)
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "upload.zip"
    path.write_bytes(samples.make_pdf("不是压缩包", ["x"]))
    with pytest.raises(Invalid, match="不是有效的 ZIP"):
        import_sources.check_zip(path, LIMITS)


def test_zip_names_in_gbk_utf8_and_decomposed_form_unpack_to_one_normal_form(tmp_path):
    nfd = unicodedata.normalize("NFD", "资料/é合同.pdf")
    assert nfd != unicodedata.normalize("NFC", nfd)
    plain = _zip({"张伟/认购书.pdf": b"1", nfd: b"2"})
    windows = gbk_names(_zip({"李娜/交房通知.pdf": b"3"}))
    assert not zipfile.ZipFile(io.BytesIO(windows)).infolist()[0].flag_bits & 0x800
    for n, data in enumerate((plain, windows)):
        path = tmp_path / f"{n}.zip"
        path.write_bytes(data)
        import_sources.unpack(path, tmp_path / "out" / str(n), LIMITS)
    names = sorted(str(p.relative_to(p.parents[1])) for p in (tmp_path / "out").rglob("*.pdf"))
    assert names == sorted(["张伟/认购书.pdf", unicodedata.normalize("NFC", nfd), "李娜/交房通知.pdf"])


def test_a_manifest_naming_a_file_in_decomposed_form_finds_it(app, cli, tmp_path):
    folder = tmp_path / "mac"
    folder.mkdir()
    name = unicodedata.normalize("NFD", "Café合同.pdf")
    (folder / name).write_bytes(samples.make_pdf("合同", ["合同正文。"]))
    write_manifest(folder, [row("合同", unicodedata.normalize("NFC", name))])
    result = cli(folder, "--user", "officer")
    assert "归档 1 行" in result.output, result.output
    assert db.session.query(Document).one().files[0].original_name == "Café合同.pdf"
