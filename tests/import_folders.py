"""Folders and ZIPs for the bulk-import tests: a manifest and the real files it names."""

import csv
import io
import zipfile
from pathlib import Path

from archive import samples
from tests.hostile_files import make_encrypted_pdf

HEADER = ["客户编号", "客户名称", "项目", "栋号", "单元", "房号", "类别", "题名", "日期", "密级",
          "载体", "文号", "责任者", "文件"]


def write_manifest(folder: Path, rows: list[dict], *, name: str = "manifest.csv",
                   encoding: str = "utf-8-sig", header=HEADER) -> Path:
    path = folder / name
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def row(title, files="", *, customer="张伟", code="", room="1201", category="销售", **more):
    return {"客户编号": code, "客户名称": customer, "项目": "翠湖苑", "栋号": "3", "单元": "2",
            "房号": room, "类别": category, "题名": title, "文件": files, **more}


def mixed_folder(folder: Path) -> dict:
    """Good, duplicate, broken, encrypted and wrongly-typed files, a bad manifest row, a
    paper-only row and a missing file; returns what each row (by number) must become."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "张伟").mkdir()
    good = samples.make_pdf("认购书", ["认购书正文：翠湖苑三栋二单元一二零一。"])
    (folder / "张伟" / "认购书.pdf").write_bytes(good)
    (folder / "张伟" / "认购书-副本.pdf").write_bytes(good)
    (folder / "张伟" / "合同.docx").write_bytes(
        samples.make_docx("买卖合同", ["买卖合同正文：付款方式按揭。"]))
    (folder / "张伟" / "坏文件.docx").write_bytes(b"PK\x03\x04 not really a zip at all")
    (folder / "张伟" / "加密.pdf").write_bytes(make_encrypted_pdf())
    (folder / "张伟" / "照片.pdf").write_bytes(samples.make_png(["not a pdf"]))
    write_manifest(folder, [
        row("认购书", "张伟/认购书.pdf", 日期="2024-03-01", 密级="内部", 文号="认字001号",
            责任者="销售经营部"),                                        # 2 filed
        row("买卖合同", "张伟/合同.docx", category="签约"),                 # 3 filed
        row("认购书（重复）", "张伟/认购书-副本.pdf"),                       # 4 skipped
        row("损坏的合同", "张伟/坏文件.docx", category="签约"),              # 5 refused
        row("加密的文件", "张伟/加密.pdf"),                                # 6 refused
        row("改名的照片", "张伟/照片.pdf"),                                # 7 refused
        row("类别错误", "", customer="钱七", room="501", category="不存在"),  # 8 refused
        row("入伙通知（纸质）", "", category="入伙"),                       # 9 filed, paper
        row("缺失的文件", "张伟/不存在.pdf"),                               # 10 refused
    ])
    return {2: "filed", 3: "filed", 4: "skipped", 5: "refused", 6: "refused", 7: "refused",
            8: "refused", 9: "filed", 10: "refused"}


def zip_folder(folder: Path, *, gbk: bool = False) -> bytes:
    """The folder as a ZIP; `gbk` writes the names in GBK without the UTF-8 flag, as
    Windows' own zip tool does."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.writestr(str(path.relative_to(folder)), path.read_bytes())
    data = out.getvalue()
    return gbk_names(data) if gbk else data


def gbk_names(data: bytes) -> bytes:
    """Rewrite a ZIP's names from UTF-8 (flag bit 11) to GBK bytes with the flag clear.
    zipfile flags every name that is not ASCII, so each entry is written under an ASCII
    stand-in as long as its GBK name, whose bytes then replace it."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    names = {}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for n, info in enumerate(source.infolist()):
            raw = info.filename.encode("gbk")
            stand_in = f"~{n:04d}~".ljust(len(raw), "~")[:len(raw)]
            assert len(stand_in) == len(raw) >= 6
            names[stand_in.encode()] = raw
            target.writestr(stand_in, source.read(info))
    result = out.getvalue()
    for stand_in, raw in names.items():
        result = result.replace(stand_in, raw)
    return result
