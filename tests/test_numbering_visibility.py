"""Sequence numbers are the archive room's (issue 14, finding 14): they are given across
every level, so a reader who saw them would see a gap where an item above them lies.
Readers outside the archive room get the items in order, without numbers."""

import io
import re

import pytest

from archive import samples
from archive.extensions import db

PDF = samples.make_pdf("维修记录", ["更换水表"])


@pytest.fixture
def group_with_hidden_first(make_customer, make_dossier, file_doc):
    """b group: item 1 is 机密 (above staff), item 2 is 内部."""
    dossier = make_dossier(make_customer("汪保密"))
    hidden = file_doc(dossier, "机密赔付协议", "赔付", classification="机密")
    shown = file_doc(dossier, "维修记录", "维修")
    assert (hidden.seq, shown.seq) == (1, 2)
    db.session.commit()
    return dossier, hidden, shown


def test_readers_outside_the_archive_room_get_no_numbers_in_the_api(call, group_with_hidden_first):
    dossier, hidden, shown = group_with_hidden_first
    filed = call("staff", "POST", f"/api/v1/dossiers/{dossier.id}/documents",
                 data={"title": "第三份", "category": "维修", "file": (io.BytesIO(PDF), "a.pdf")},
                 content_type="multipart/form-data")
    assert filed.status_code == 201 and filed.get_json()["seq"] is None
    assert call("staff", "GET", f"/api/v1/documents/{shown.id}").get_json()["seq"] is None
    groups = call("staff", "GET", f"/api/v1/dossiers/{dossier.id}").get_json()["groups"]
    listed = [d for g_ in groups for d in g_["documents"]]
    assert [d["title"] for d in listed] == ["维修记录", "第三份"]
    assert all(d["seq"] is None for d in listed)
    # The archive room works with the numbers, gaps and all.
    officer = call("officer", "GET", f"/api/v1/dossiers/{dossier.id}").get_json()["groups"]
    assert [d["seq"] for g_ in officer for d in g_["documents"]] == [1, 2, 3]


def test_readers_outside_the_archive_room_get_no_numbers_on_pages(app, login_as,
                                                                  group_with_hidden_first):
    dossier, hidden, shown = group_with_hidden_first
    client = login_as("staff")
    # The printed 卷内目录 is the archive room's (issue 18): others have the dossier page.
    assert client.get(f"/dossiers/{dossier.id}/index").status_code == 403
    for path in (f"/dossiers/{dossier.id}", f"/documents/{shown.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "顺序号" not in page and "data-seq" not in page, path
        assert "维修记录" in page and "机密赔付协议" not in page, path
    assert "第 2 号" not in client.get(f"/documents/{shown.id}").get_data(as_text=True)
    done = client.post(f"/dossiers/{dossier.id}/upload",
                       data={"title": "第三份", "category": "维修"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "已归档：b 组《第三份》" in text and "第 3 号" not in text
    officer = login_as("officer").get(f"/dossiers/{dossier.id}/index").get_data(as_text=True)
    # 顺序号 1, then 文号 and 责任者 (GB/T 9705), then the title
    assert re.search(r'<td class="num">1</td><td>[^<]*</td><td>[^<]*</td><td>机密赔付协议', officer)
