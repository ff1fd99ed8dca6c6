"""The printed 卷内目录 follows the standard form (GB/T 9705, issue 18): 顺序号, 文号,
责任者, 题名, 日期, 页号 (each document's first and last page within the volume), 备注."""

import re


def _cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


def test_the_columns_of_the_standard_form(login_as, make_customer, make_dossier, file_doc):
    dossier = make_dossier(make_customer())
    file_doc(dossier, "商品房认购书", "销售", pages=3, originator="深圳市卷宗房地产有限公司",
             document_number="卷宗认字〔2024〕12号", date="2024-03-05")
    file_doc(dossier, "补充协议", "签约", originator="张伟")  # no page count known
    file_doc(dossier, "入伙通知书", "入伙", pages=2, date="2024-09-01", remarks="原件")
    file_doc(dossier, "维修记录", "维修", pages=1)
    page = login_as("officer").get(f"/dossiers/{dossier.id}/index").get_data(as_text=True)
    header = re.findall(r"<th[^>]*>([^<]*)</th>", page.split('data-group="a"')[1])[:7]
    assert header == ["顺序号", "文号", "责任者", "题名", "日期", "页号", "备注"]
    body_a = page.split('data-group="a"')[1].split("</table>")[0].split("<tbody>")[1]
    rows = [_cells(r) for r in body_a.split("<tr>")[1:]]
    assert rows == [
        ["1", "卷宗认字〔2024〕12号", "深圳市卷宗房地产有限公司", "商品房认购书", "20240305", "1–3", ""],
        ["2", "", "张伟", "补充协议", "", "", ""],
        ["3", "", "", "入伙通知书", "20240901", "4–5", "原件"],
    ]
    body_b = page.split('data-group="b"')[1].split("</table>")[0]
    assert _cells(body_b.split("<tbody>")[1].split("<tr>")[1])[5] == "6"  # on through the groups
    assert "页数" not in page
