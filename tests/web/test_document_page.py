"""The document page as a new user met it (issue 18): each file's full SHA-256 to copy, a
type name a reader knows instead of a MIME string, and a preview for every file of a
multi-file document, images (PNG, JPEG, TIFF) included."""

import re

from archive import samples

PDF = samples.make_pdf("认购书", ["认购书正文。"])
PNG = samples.make_png(["签字页"])
JPEG = samples.make_jpeg(["现场照片"])
TIFF = samples.make_tiff(2)


def _previews(page: str) -> dict[str, str]:
    """file id -> "iframe" or "img"."""
    found = {}
    for section in page.split('class="card preview" data-file="')[1:]:
        file_id = section.split('"')[0]
        body = section.split("</section>")[0]
        found[file_id] = "iframe" if "<iframe" in body else "img" if "<img" in body else ""
    return found


def test_every_file_has_its_hash_type_and_preview(login_as, make_customer, make_dossier,
                                                 file_doc):
    document = file_doc(make_dossier(make_customer()), "认购书及附件", "销售", files=[
        ("认购书.pdf", PDF), ("签字页.png", PNG), ("照片.jpg", JPEG), ("扫描件.tif", TIFF)])
    client = login_as("officer")
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    for f in document.files:
        assert f'<code class="sha256" title="可全选复制">{f.sha256}</code>' in page
    types = re.findall(r'<td class="file-type" title="[^"]*">([^<]*)</td>', page)
    assert types == ["PDF", "PNG 图片", "JPEG 图片", "TIFF 图片"]
    assert ">image/png<" not in page and ">application/pdf<" not in page
    by_name = {f.original_name: str(f.id) for f in document.files}
    assert _previews(page) == {by_name["认购书.pdf"]: "iframe", by_name["签字页.png"]: "img",
                               by_name["照片.jpg"]: "img", by_name["扫描件.tif"]: "iframe"}
    tiff = client.get(f"/documents/{document.id}/files/{by_name['扫描件.tif']}/preview")
    assert tiff.status_code == 200 and tiff.mimetype == "application/pdf"
    assert tiff.data.startswith(b"%PDF")
    png = client.get(f"/documents/{document.id}/files/{by_name['签字页.png']}/preview")
    assert png.mimetype == "image/png" and png.data == PNG
    download = client.get(f"/documents/{document.id}/files/{by_name['扫描件.tif']}/download")
    assert download.data == TIFF  # the file itself is unchanged


def test_a_secret_documents_images_preview_as_stamped_pdfs(login_as, make_customer,
                                                           make_dossier, file_doc):
    document = file_doc(make_dossier(make_customer()), "赔付协议", "赔付", classification="秘密",
                        files=[("协议.pdf", PDF), ("签字页.png", PNG)])
    client = login_as("officer")
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert set(_previews(page).values()) == {"iframe"} and len(_previews(page)) == 2
    png = client.get(f"/documents/{document.id}/files/{document.files[1].id}/preview")
    assert png.mimetype == "application/pdf"
