"""What a bulk import reads: the manifest (CSV or XLSX) and the files it names, inside one
folder, and a ZIP unpacked safely into such a folder.

Nothing here trusts the input. A file path in the manifest is refused (with the reason,
for that row) if it is absolute, climbs out with "..", passes through a symbolic link or
resolves outside the folder. A ZIP is refused as a whole before a byte is unpacked if it
holds too many entries, would expand past the limit or by a suspicious ratio (a ZIP
bomb), holds links, encrypted entries or names that escape. Names are decoded as the
tool that wrote them meant (UTF-8 when flagged, else GBK as Windows tools write them)
and normalised to NFC, so "合同.pdf" typed on a Mac and on Windows is one name.
"""

import csv
import hashlib
import io
import os
import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from archive.services.errors import Invalid, TooLarge

MANIFEST_NAMES = ("manifest.csv", "manifest.xlsx", "清单.csv", "清单.xlsx")
MAX_MANIFEST_BYTES = 20 * 2**20
MAX_MANIFEST_ROWS = 200_000

# Column -> the headers it is known by (Chinese first, as the form prints them).
COLUMNS = {
    "customer_code": ("客户编号", "customer_code"),
    "id_number": ("证件号码", "身份证号", "统一社会信用代码", "id_number"),
    "customer_name": ("客户名称", "customer_name"),
    "customer_kind": ("客户类型", "customer_kind"),
    "department": ("负责部门", "部门", "department"),
    "project": ("项目", "project"),
    "building": ("栋号", "building"),
    "unit_no": ("单元", "unit_no"),
    "room": ("房号", "room"),
    "category": ("类别", "category"),
    "group": ("分组", "group"),
    "title": ("题名", "title"),
    "date": ("日期", "文件日期", "date"),
    "classification": ("密级", "classification"),
    "carrier": ("载体", "carrier"),
    "document_number": ("文号", "document_number"),
    "originator": ("责任者", "originator"),
    "pages": ("页数", "pages"),
    "remarks": ("备注", "remarks"),
    "files": ("文件", "文件路径", "files"),
}
REQUIRED = ("title", "category", "files")
_HEADER = {unicodedata.normalize("NFKC", h).strip().lower(): key
           for key, headers in COLUMNS.items() for h in headers}
# Several files of one document in one cell.
_FILE_SEPARATORS = re.compile(r"[;；|\n]")


@dataclass
class Manifest:
    name: str
    sha256: str
    rows: list[tuple[int, dict]]  # (row number, column -> text), blank rows left out


@dataclass
class ZipLimits:
    max_entries: int
    max_total_bytes: int
    max_ratio: int = 100


def find_manifest(folder: Path, name: str | None = None) -> Path:
    """The manifest in `folder`: the one named, else the one file called manifest.csv,
    manifest.xlsx, 清单.csv or 清单.xlsx at its top (or at the top of its one sub-folder,
    as a ZIP made from a folder holds it)."""
    if name:
        return safe_path(folder, name)
    for where in (folder, *_single_subfolder(folder)):
        found = [where / n for n in MANIFEST_NAMES if (where / n).is_file()]
        if len(found) > 1:
            raise Invalid(f"导入目录中有多个清单文件：{'、'.join(p.name for p in found)}，请只保留一个",
                          code="bad_manifest")
        if found:
            return safe_path(folder, str(found[0].relative_to(folder)))
    raise Invalid(f"导入目录中没有清单文件（{'、'.join(MANIFEST_NAMES)}）", code="bad_manifest")


def _single_subfolder(folder: Path) -> list[Path]:
    entries = [e for e in folder.iterdir() if not e.name.startswith(".")]
    return entries if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink() else []


def read_manifest(path: Path) -> Manifest:
    """The rows of a manifest, CSV (UTF-8, UTF-8 with BOM or GBK) or XLSX (its first
    sheet). A manifest without the required columns, or with a column nobody knows (a
    typo would silently drop what it holds), is refused as a whole."""
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise TooLarge(f"清单文件过大：不能超过 {MAX_MANIFEST_BYTES // 2**20} MB", code="bad_manifest")
    data = path.read_bytes()
    if path.suffix.lower() == ".xlsx":
        table = _xlsx_rows(data)
    elif path.suffix.lower() == ".csv":
        table = _csv_rows(data)
    else:
        raise Invalid("清单须为 CSV 或 XLSX 文件", code="bad_manifest")
    if not table:
        raise Invalid("清单是空的", code="bad_manifest")
    (_, header), *body = table
    keys = []
    for cell in header:
        label = unicodedata.normalize("NFKC", cell).strip()
        key = _HEADER.get(label.lower())
        if key is None and label:
            raise Invalid(f"清单中有无法识别的列：“{label}”；可用的列：" +
                          "、".join(h[0] for h in COLUMNS.values()), code="bad_manifest")
        if key in keys:
            raise Invalid(f"清单中的列重复：“{label}”", code="bad_manifest")
        keys.append(key)
    missing = [COLUMNS[k][0] for k in REQUIRED if k not in keys]
    if not {"customer_code", "id_number", "customer_name"} & set(keys):
        missing.append("客户编号、证件号码或客户名称")
    if missing:
        raise Invalid(f"清单缺少列：{'、'.join(missing)}", code="bad_manifest")
    if len(body) > MAX_MANIFEST_ROWS:
        raise TooLarge(f"清单行数过多：一次最多导入 {MAX_MANIFEST_ROWS} 行", code="bad_manifest")
    rows = []
    for number, cells in body:
        values = {k: unicodedata.normalize("NFC", v).strip()
                  for k, v in zip(keys, cells, strict=False) if k}
        if any(values.values()):
            rows.append((number, values))
    return Manifest(name=path.name, sha256=hashlib.sha256(data).hexdigest(), rows=rows)


def _csv_rows(data: bytes) -> list[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Invalid("清单文件的编码无法识别，请另存为 UTF-8 或 GBK 编码的 CSV", code="bad_manifest")
    try:
        # Numbered by record, the header being row 1, as a spreadsheet shows them.
        return [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1)]
    except csv.Error as exc:
        raise Invalid(f"清单 CSV 格式有误：{exc}", code="bad_manifest") from None


def _xlsx_rows(data: bytes) -> list[tuple[int, list[str]]]:
    import openpyxl

    try:
        # An XLSX is a ZIP: checked like any other before it is parsed.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_entries(archive.infolist(), ZipLimits(max_entries=1000,
                                                        max_total_bytes=200 * 2**20))
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise Invalid(f"清单 XLSX 文件无法读取：{exc}", code="bad_manifest") from None
    try:
        sheet = book.worksheets[0]
        return [(n, [_cell(c) for c in row])
                for n, row in enumerate(sheet.iter_rows(values_only=True), 1)]
    finally:
        book.close()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def file_names(cell: str) -> list[str]:
    """The file paths of one manifest cell (several separated by ; ； | or a line break)."""
    return [p.strip() for p in _FILE_SEPARATORS.split(cell or "") if p.strip()]


def safe_path(folder: Path, relative: str) -> Path:
    """The file `relative` names inside `folder` (already resolved), or Invalid saying why
    it is refused: absolute, "..", a symbolic link on the way, outside the folder, missing."""
    name = unicodedata.normalize("NFC", relative.strip()).replace("\\", "/")
    if not name:
        raise Invalid("文件路径为空", code="bad_path")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise Invalid(f"文件路径不能是绝对路径：{relative}", code="bad_path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Invalid(f"文件路径不能包含“..”：{relative}", code="bad_path")
    path = folder
    for part in parts:
        path = _child(path, part)
        if path.is_symlink():
            raise Invalid(f"文件是符号链接，已拒收：{relative}", code="symlink")
    if not path.exists():
        raise Invalid(f"清单中的文件不存在：{relative}", code="missing_file")
    if not path.resolve().is_relative_to(folder):
        raise Invalid(f"文件路径在导入目录之外：{relative}", code="bad_path")
    if not path.is_file():
        raise Invalid(f"不是文件：{relative}", code="bad_path")
    return path


def _child(path: Path, part: str) -> Path:
    """`path / part`, also when the name on disk is in another Unicode form (NFD, as
    macOS writes names)."""
    candidate = path / part
    if candidate.exists() or candidate.is_symlink() or not path.is_dir():
        return candidate
    for entry in path.iterdir():
        if unicodedata.normalize("NFC", entry.name) == part:
            return entry
    return candidate


# -- ZIP uploads -------------------------------------------------------------------------

def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its author wrote it: UTF-8 when the ZIP says so (flag bit 11);
    otherwise Python read it as cp437, and it is UTF-8 written without the flag or, as
    Windows' own zip tools write Chinese names, GBK."""
    name = info.filename
    if not info.flag_bits & 0x800:
        raw = name.encode("cp437")
        for encoding in ("utf-8", "gb18030"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    return unicodedata.normalize("NFC", name).replace("\\", "/")


def check_entries(infos: list[zipfile.ZipInfo], limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, str]]:
    """Every entry's (info, safe relative name), or TooLarge/Invalid for the whole ZIP."""
    if len(infos) > limits.max_entries:
        raise TooLarge(f"压缩包中的文件过多：{len(infos)} 个，一次最多 {limits.max_entries} 个",
                       code="too_many_entries")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise TooLarge(f"压缩包解压后过大：{total / 2**20:.0f} MB，"
                       f"一次最多 {limits.max_total_bytes / 2**20:.0f} MB", code="zip_bomb")
    checked, seen = [], set()
    for info in infos:
        name = entry_name(info)
        if info.file_size > 2**20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise TooLarge(f"压缩包中的 {name} 压缩比异常（超过 {limits.max_ratio} 倍），"
                           "疑似压缩炸弹，已拒收", code="zip_bomb")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise Invalid(f"压缩包中的 {name} 是符号链接，已拒收", code="symlink")
        if info.flag_bits & 0x1:
            raise Invalid(f"压缩包中的 {name} 已加密，请上传未加密的压缩包", code="encrypted_zip")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            raise Invalid(f"压缩包中的路径不能是绝对路径：{name}", code="bad_path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise Invalid(f"压缩包中的路径不能包含“..”：{name}", code="bad_path")
        if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
            raise Invalid(f"压缩包中的文件名含控制字符：{name!r}", code="bad_path")
        clean = "/".join(parts)
        if not clean:
            continue
        if clean in seen:
            raise Invalid(f"压缩包中有重名的文件：{clean}", code="bad_path")
        seen.add(clean)
        checked.append((info, clean))
    return checked


def check_zip(path: Path, limits: ZipLimits) -> list[tuple[zipfile.ZipInfo, str]]:
    """Check a ZIP's directory (nothing is unpacked); its entries as `check_entries`."""
    try:
        with zipfile.ZipFile(path) as archive:
            return check_entries(archive.infolist(), limits)
    except zipfile.BadZipFile:
        raise Invalid("上传的文件不是有效的 ZIP 压缩包", code="bad_zip") from None


def unpack(path: Path, target: Path, limits: ZipLimits) -> None:
    """Unpack a ZIP into the new folder `target` once its directory has passed
    `check_entries`, counting the bytes actually written (an entry's declared size can
    lie) and never following a link. A ZIP refused half-way leaves no folder behind."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = check_entries(archive.infolist(), limits)
            target.mkdir(parents=True)
            try:
                _write_entries(archive, entries, target, limits)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
    except zipfile.BadZipFile:
        raise Invalid("上传的文件不是有效的 ZIP 压缩包", code="bad_zip") from None


def _write_entries(archive: zipfile.ZipFile, entries, target: Path, limits: ZipLimits) -> None:
    written = 0
    for info, name in entries:
        destination = target / name
        if info.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out, archive.open(info) as member:
            while chunk := member.read(1 << 20):
                written += len(chunk)
                if written > limits.max_total_bytes:
                    raise TooLarge("压缩包解压后超过上限，疑似压缩炸弹，已拒收", code="zip_bomb")
                out.write(chunk)
