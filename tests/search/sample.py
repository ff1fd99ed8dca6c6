"""A small Chinese archive in which every document is there to prove one matching rule."""

from __future__ import annotations

import datetime as dt

from archive.services.search import IndexDoc

CUSTOMERS = {1: ("张伟", "KH-0001"), 2: ("李娜", "KH-0002"), 3: ("王芳", "KH-0003")}
ROOMS = {1: ("翠湖苑", 3, 2, "1201"), 2: ("翠湖苑", 5, 1, "0302"), 3: ("金桂园", 12, 1, "1201")}
DEPARTMENTS = {1: "物业部", 2: "法务部", 3: "销售部"}

# id: (customer, title, text, category, carrier, classification, department, date, readers)
ROWS = {
    1: (1, "报修单", "业主报修：卫生间漏水，维修记录已归档。", "维修", "纸质", 0, 1, "2023-03-01", []),
    2: (1, "巡检报告", "墙面维护后再修补裂缝。", "维修", "电子", 1, 1, "2023-04-02", []),
    3: (2, "认购书", "客户签署认购书，定金已付，合同编号HT-2024-0031。", "签约", "纸质", 1, 3,
        "2024-01-15", []),
    4: (2, "檔案說明", "檔案室保存的維修記錄", "其他", "电子", 1, 1, "2022-06-30", []),
    5: (3, "移交清单", "档案移交清单", "其他", "电子", 0, 2, "2022-07-01", []),
    6: (1, "入伙通知", "房号１２０１室，３栋２单元，入伙手续已办理。", "入伙", "纸质", 1, 1,
        "2021-05-05", []),
    7: (3, "维修申请扫描件", "维 修\n记 录 表\n申 请 人 王 芳", "维修", "照片", 2, 2, "2021-08-08", []),
    8: (2, "Scan", "PDF扫描件 scan copy of 入伙通知书", "入伙", "电子", 0, 3, "2020-02-02", []),
    9: (1, "费用说明", "<script>alert('x')</script> 维修费用由业主承担", "赔付", "电子", 1, 1,
        "2023-09-09", []),
    10: (3, "物业管理处通知", "物业管理处通知：停水检修", "其他", "纸质", 1, 2, "2024-02-02", []),
    11: (3, "合同", "合同HT-2023-0999补充协议", "签约", "纸质", 2, 3, "2023-12-12", []),
    12: (1, "绝密文件", "诉讼材料 维修赔偿", "诉讼", "纸质", 4, 2, "2024-03-03", [77]),
    13: (2, "机密文件", "维修合同纠纷", "诉讼", "电子", 3, 2, "2024-04-04", []),
    14: (2, "无日期", "维修回访记录", "维修", "录音", 1, 1, None, []),
    15: (3, "标点", "维修，记录分开", "维修", "电子", 0, 3, "2020-12-31", []),
    16: (1, "秘密租赁", "商铺租赁合同", "商铺租赁", "纸质", 2, 1, "2022-02-22", [55]),
}


def make_doc(doc_id: int, customer: int, title: str, text: str, category: str = "其他",
             carrier: str = "电子", classification: int = 1, department: int = 1,
             date: str | None = "2023-01-01", readers: list[int] | None = None) -> IndexDoc:
    """One IndexDoc; customer decides name, code, dossier number and unit."""
    name, code = CUSTOMERS[customer]
    estate, building, entrance, room = ROOMS[customer]
    return IndexDoc(
        id=doc_id, dossier_id=100 + customer, customer_id=customer, title=title, text=text,
        customer_name=name, customer_code=code,
        dossier_number=f"{estate}-{building}栋{entrance}单元{room}",
        unit=f"{estate} {building}栋 {entrance}单元 {room}",
        category=category, carrier=carrier, classification=classification, retention="永久",
        department_id=department, department=DEPARTMENTS[department],
        doc_date=dt.date.fromisoformat(date) if date else None,
        filed_at=dt.datetime(2024, 6, 1, 9, 0), file_names=[f"F{doc_id:04d}.pdf"],
        readers=readers or [],
    )


CORPUS: list[IndexDoc] = [make_doc(i, *row) for i, row in ROWS.items()]
