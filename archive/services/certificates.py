"""The printable 销毁清册 and destruction certificate of a batch (PDF): every item with the
fields of the register and the SHA-256 of each destroyed file, so that anyone can later
show that a given file was destroyed, when, approved by whom and before whom."""

import tempfile
from pathlib import Path

from archive.clock import local, now
from archive.models.enums import Level
from archive.models.retention import Destruction, DestructionStatus
from archive.services import destruction
from archive.services.fonts import cjk_font

COLUMNS = (("序号", 12), ("档号", 52), ("题名", 70), ("责任者", 26), ("形成时间", 22),
           ("应保管期限", 20), ("已保管期限", 22), ("页数", 12), ("密级", 14), ("备注", 27))


def _moment(value) -> str:
    return f"{local(value):%Y-%m-%d %H:%M}" if value else "—"


def _lines(session, user, batch: Destruction) -> tuple[list[str], list[list[str]], list[list[str]]]:
    approved = f"{local(batch.approved_at):%Y-%m-%d %H:%M}" if batch.approved_at else "—"
    head = [
        f"销毁清单编号：{batch.number}    状态：{batch.status_enum.label}",
        f"销毁原因：{batch.reason}",
        f"提出：{batch.requested_by.display_name}（{local(batch.created_at):%Y-%m-%d %H:%M}）    "
        f"批准：{batch.approved_by.display_name if batch.approved_by else '—'}（{approved}）",
        "监销人：" + ("、".join(u.display_name for u in batch.supervisors) or "—")
        + f"    执行：{batch.executed_by.display_name if batch.executed_by else '—'}",
        f"执行时间：{_moment(batch.started_at)} 至 {_moment(batch.finished_at)}",
        f"纸质原件销毁方式：{batch.paper_method or '—'}    地点：{batch.paper_place or '—'}",
    ]
    rows, hashes = [], []
    for entry in destruction.register(session, user, batch=batch):
        rows.append([str(entry.seq), entry.archival_code, entry.title, entry.originator,
                     entry.formed, entry.retention, entry.kept_for,
                     "" if entry.pages is None else str(entry.pages),
                     Level(entry.classification).label, entry.remarks[:40]])
        hashes.append([f"    {f['name']}  SHA-256 {f['sha256']}" for f in entry.files]
                      or ["    （无电子文件：纸质原件）"])
    return head, rows, hashes


def certificate(session, user, batch: Destruction) -> bytes:
    """The certificate (PDF, A4 landscape, Chinese)."""
    from fpdf import FPDF

    head, rows, hashes = _lines(session, user, batch)
    title = ("档案销毁证明及销毁清册" if batch.status == DestructionStatus.DONE.value
             else "档案销毁清册（未执行完毕）")
    footer = (f"本证明由卷宗档案系统于 {local(now()):%Y-%m-%d %H:%M} 生成；清册每行的摘要记录在审计哈希链上，"
              "可用 flask --app archive verify-audit 核验。")
    text = title + "".join(head) + "".join(c for c, _ in COLUMNS) + footer + "".join(
        "".join(r) for r in rows) + "".join("".join(h) for h in hashes) + "—（）：…"
    with tempfile.TemporaryDirectory(prefix="juanzong-cert-") as tmp:
        font_path = Path(tmp) / "cjk.ttf"  # fpdf2 loads fonts only from a path
        font_path.write_bytes(cjk_font(text))
        pdf = FPDF(orientation="L", format="A4")
        pdf.set_creator("Juanzong")
        pdf.set_title(f"{title} {batch.number}")
        pdf.add_font("cjk", fname=font_path)
        pdf.fonts["cjk"].ttfont.recalcBBoxes = False
        pdf.set_margins(10, 12, 10)
        pdf.set_auto_page_break(True, margin=12)
        pdf.add_page()
        pdf.set_font("cjk", size=16)
        pdf.cell(0, 10, title, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=10)
        for line in head:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT", wrapmode="CHAR")
        pdf.ln(2)
        pdf.set_font("cjk", size=8)
        for label, width in COLUMNS:
            pdf.cell(width, 7, label, border=1, align="C")
        pdf.ln()
        for cells, files in zip(rows, hashes, strict=True):
            height = 6
            for (_, width), value in zip(COLUMNS, cells, strict=True):
                pdf.cell(width, height, _fit(pdf, value, width), border=1)
            pdf.ln()
            pdf.set_font("cjk", size=7)
            for line in files:
                pdf.cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("cjk", size=8)
        pdf.ln(4)
        pdf.set_font("cjk", size=8)
        pdf.multi_cell(0, 5, footer, new_x="LMARGIN", new_y="NEXT", wrapmode="CHAR")
        return bytes(pdf.output())


def _fit(pdf, value: str, width: float) -> str:
    """The cell's text, cut with … to its width (the register holds the whole)."""
    if pdf.get_string_width(value) <= width - 2:
        return value
    while value and pdf.get_string_width(value + "…") > width - 2:
        value = value[:-1]
    return value + "…"
