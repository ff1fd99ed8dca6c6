"""Uploads that must not answer 201 or 500 (issue 14, findings 11 and 13): a `file` field
that carries no file, and a disk that is full. Nothing is stored either way."""

import errno
import io
import os
import tempfile

import pytest

from archive import samples
from tests.conftest import archive_state

PDF = samples.make_pdf("房地产买卖合同", ["买受人张伟购买翠湖苑3栋2单元1201。"])
FIELDS = {"title": "房地产买卖合同", "category": "签约"}


@pytest.fixture
def dossier(make_customer, make_dossier):
    return make_dossier(make_customer("张伟"))


def _multipart(disposition: bytes, content: bytes = PDF) -> tuple[bytes, str]:
    """A multipart body by hand: the test client would not write a bare CR in a name."""
    body = b""
    for name, value in FIELDS.items():
        body += (b"--XyZ\r\nContent-Disposition: form-data; name=\"" + name.encode()
                 + b"\"\r\n\r\n" + value.encode() + b"\r\n")
    body += (b"--XyZ\r\nContent-Disposition: " + disposition
             + b"\r\nContent-Type: application/pdf\r\n\r\n" + content + b"\r\n--XyZ--\r\n")
    return body, "multipart/form-data; boundary=XyZ"


# (description, request keyword arguments): each names the `file` field but sends no file.
NO_FILE = [
    # curl -F 'file=<a.pdf': the content as a plain form field
    ("text part", lambda: {"data": {**FIELDS, "file": PDF.decode("latin-1")},
                           "content_type": "multipart/form-data"}),
    ("urlencoded", lambda: {"data": {**FIELDS, "file": "合同.pdf"}}),
    # Werkzeug cannot read a file name holding a bare CR and files the part as text.
    ("bare CR in the name", lambda: dict(zip(("data", "content_type"), _multipart(
        b'form-data; name="file"; filename="\xe5\x90\x88\r\xe5\x90\x8c.pdf"'), strict=True))),
]


@pytest.mark.parametrize(("case", "request_args"), NO_FILE, ids=[c for c, _ in NO_FILE])
def test_api_refuses_a_file_field_that_carries_no_file(app, client, api, dossier, case,
                                                       request_args):
    before = archive_state(app)
    response = client.post(f"/api/v1/dossiers/{dossier.id}/documents", headers=api("officer"),
                           **request_args())
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "file_not_attached"
    assert "不是文件" in response.json["error"]["message"]
    assert archive_state(app) == before


@pytest.mark.parametrize(("case", "request_args"), NO_FILE, ids=[c for c, _ in NO_FILE])
def test_web_form_refuses_a_file_field_that_carries_no_file(app, login_as, dossier, case,
                                                            request_args):
    client = login_as("officer")
    before = archive_state(app)
    response = client.post(f"/dossiers/{dossier.id}/upload", **request_args())
    assert response.status_code == 422
    assert "收到的是文本而不是文件" in response.get_data(as_text=True)
    assert archive_state(app) == before


# Bodies that cannot be parsed: Werkzeug read each as an empty form, and the upload was
# refused for a missing title, as if the client had left it out.
_TITLE_PART = b'--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\n\xe5\x90\x88\xe5\x90\x8c'
MALFORMED = {
    "cut short": (_TITLE_PART, "multipart/form-data; boundary=XyZ"),
    "no boundary": (_TITLE_PART + b"\r\n--XyZ--\r\n", "multipart/form-data"),
    "another boundary": (_TITLE_PART.replace(b"XyZ", b"AbC") + b"\r\n--AbC--\r\n",
                         "multipart/form-data; boundary=XyZ"),
    "not multipart": (b"\x00\x01 not a form", "multipart/form-data; boundary=XyZ"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_body_that_cannot_be_parsed_is_400_malformed(app, client, api, login_as, dossier,
                                                       case):
    body, content_type = MALFORMED[case]
    before = archive_state(app)
    response = client.post(f"/api/v1/dossiers/{dossier.id}/documents", headers=api("officer"),
                           data=body, content_type=content_type)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "malformed_body"
    assert "请求体格式有误" in response.json["error"]["message"]
    page = login_as("officer").post(f"/dossiers/{dossier.id}/upload", data=body,
                                    content_type=content_type)
    assert page.status_code == 400 and "请求体格式有误" in page.get_data(as_text=True)
    assert archive_state(app) == before


def test_a_browsers_empty_file_input_still_files_a_paper_original(app, login_as, dossier):
    # A file input left empty is sent as a part with no name and no bytes.
    client = login_as("officer")
    body, content_type = _multipart(b'form-data; name="file"; filename=""', content=b"")
    response = client.post(f"/dossiers/{dossier.id}/upload", data=body,
                           content_type=content_type)
    assert response.status_code == 302
    document = dossier.documents[-1]
    assert document.carrier == "纸质" and document.files == []


def test_a_file_with_content_but_no_name_is_refused_on_the_web(app, login_as, dossier):
    # Was dropped silently (paper-only filing): bytes without a name are not "no file".
    client = login_as("officer")
    before = archive_state(app)
    body, content_type = _multipart(b'form-data; name="file"; filename=""')
    response = client.post(f"/dossiers/{dossier.id}/upload", data=body,
                           content_type=content_type)
    assert response.status_code == 422 and "文件名不能为空" in response.get_data(as_text=True)
    assert archive_state(app) == before


# -- 13. a full disk ----------------------------------------------------------------------

@pytest.fixture
def full_disk(app, monkeypatch):
    """Every blob written from now on goes to /dev/full, whose writes fail with a real
    ENOSPC from the kernel: a full disk without root, a mount or a loop device. The temp
    file itself is created (and must be removed) in the store as usual."""
    real_mkstemp = tempfile.mkstemp
    root = str(app.config["STORAGE_DIR"])

    def mkstemp(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        if path.startswith(root):
            full = os.open("/dev/full", os.O_WRONLY)
            os.dup2(full, fd)
            os.close(full)
        return fd, path

    with open("/dev/full", "wb", buffering=0) as device, pytest.raises(OSError) as raised:
        device.write(b"x")
    assert raised.value.errno == errno.ENOSPC
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def _api_upload(client, headers, dossier_id):
    return client.post(f"/api/v1/dossiers/{dossier_id}/documents", headers=headers,
                       data={**FIELDS, "file": (io.BytesIO(PDF), "合同.pdf")},
                       content_type="multipart/form-data")


def _no_alarm(app):
    app.config.update(STORAGE_MIN_FREE_MB=0, STORAGE_MIN_FREE_PERCENT=0)


def test_a_full_disk_answers_507_and_stores_nothing(app, client, api, dossier, full_disk):
    _no_alarm(app)
    before = archive_state(app)
    response = _api_upload(client, api("officer"), dossier.id)
    assert response.status_code == 507
    assert response.json["error"]["code"] == "storage_full"
    assert "存储空间已满" in response.json["error"]["message"]
    assert archive_state(app) == before  # no row, no blob, no temp file left behind


def test_a_full_disk_on_the_web_says_so_in_chinese(app, login_as, dossier, full_disk):
    _no_alarm(app)
    client = login_as("officer")
    before = archive_state(app)
    response = client.post(f"/dossiers/{dossier.id}/upload", content_type="multipart/form-data",
                           data={**FIELDS, "file": (io.BytesIO(PDF), "合同.pdf")})
    assert response.status_code == 507
    assert "存储空间已满，文件未能保存" in response.get_data(as_text=True)
    assert archive_state(app) == before


def test_the_dashboard_warns_officers_after_a_write_found_the_disk_full(
        app, client, api, login_as, dossier, full_disk, monkeypatch):
    _no_alarm(app)
    assert "存储空间不足" not in login_as("officer").get("/").get_data(as_text=True)
    assert _api_upload(client, api("officer"), dossier.id).status_code == 507
    page = login_as("officer").get("/").get_data(as_text=True)
    assert "存储空间不足" in page and "因存储空间已满未能保存" in page
    assert "存储空间不足" not in login_as("staff").get("/").get_data(as_text=True)
    assert "存储空间不足" in login_as("admin").get("/").get_data(as_text=True)

    monkeypatch.undo()  # room again: the next write succeeds and ends the alarm
    assert _api_upload(client, api("officer"), dossier.id).status_code == 201
    assert "存储空间不足" not in login_as("officer").get("/").get_data(as_text=True)


def test_the_dashboard_warns_when_free_space_is_below_the_threshold(app, login_as):
    # No disk is this large: the real free space of STORAGE_DIR's disk is below it.
    app.config.update(STORAGE_MIN_FREE_MB=2**40, STORAGE_MIN_FREE_PERCENT=0)
    page = login_as("officer").get("/").get_data(as_text=True)
    assert "存储空间不足" in page and "存储目录所在磁盘剩余" in page
    app.config.update(STORAGE_MIN_FREE_MB=0, STORAGE_MIN_FREE_PERCENT=100)
    assert "存储空间不足" in login_as("officer").get("/").get_data(as_text=True)
    _no_alarm(app)
    assert "存储空间不足" not in login_as("officer").get("/").get_data(as_text=True)


def test_507_is_documented_for_uploads(client):
    spec = client.get("/api/v1/openapi.json").json
    upload = spec["paths"]["/api/v1/dossiers/{dossier_id}/documents"]["post"]
    assert upload["responses"]["507"] == {"$ref": "#/components/responses/InsufficientStorage"}
    assert "storage_full" in spec["components"]["responses"]["InsufficientStorage"]["description"]
