"""Realistic sample files with Chinese text, for the demo data, tests and the benchmarks.

Everything here produces genuine bytes that the intake layer must handle: PDFs with a
text layer (fpdf2 and the CJK font of archive.services.fonts), DOCX (python-docx),
images, a WAV, an MP4 skeleton. Text depends only on the `random.Random` passed in;
files depend only on their arguments. The broken and hostile files uploads bring in
practice (scans, encrypted and truncated PDFs, a zip bomb) are the tests' own
(tests/hostile_files.py).
"""

import datetime as dt
import io
import math
import random
import struct
import tempfile
import wave
import zipfile
from pathlib import Path

from archive.services.fonts import CJK_FONT, cjk_face_index, cjk_font

# Fixed so that the same arguments give the same bytes (and the same sha256).
FIXED_DATE = dt.datetime(2024, 1, 2, 9, 30, tzinfo=dt.UTC)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力飞宇浩鑫志国海波宁婷雪琳晨阳佳怡欣梅慧俊峰凯斌健"
_PROJECTS = ("翠湖苑", "锦绣花园", "金色家园", "碧海蓝天", "阳光新城", "御景华庭", "南山名苑", "滨江豪庭")
_STAFF_ROLES = ("置业顾问", "客服专员", "工程主管", "维修技工", "法务专员", "物业管家")


def person_name(rng: random.Random) -> str:
    """A plausible Chinese personal name (surname + one or two given characters)."""
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def unit_address(rng: random.Random) -> str:
    """A unit such as 翠湖苑3栋2单元1201 (project, building, unit, floor and room)."""
    floor, room = rng.randint(1, 32), rng.randint(1, 4)
    return f"{rng.choice(_PROJECTS)}{rng.randint(1, 12)}栋{rng.randint(1, 4)}单元{floor}{room:02d}"


def contract_number(rng: random.Random, year: int | None = None) -> str:
    """A contract number such as HT-2024-0031."""
    return f"HT-{year or rng.randint(2015, 2025)}-{rng.randint(1, 9999):04d}"


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2015, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"


def _money(rng: random.Random, low: int, high: int) -> str:
    return f"人民币{rng.randrange(low, high, 100):,}元"


# One list of sentence templates per category (000:660-676). Placeholders are filled
# from `_facts`; a paragraph is a few sentences drawn from its category.
_TEMPLATES = {
    "销售": [
        "{customer}于{date}认购{room}商品房一套，建筑面积{area}平方米，总价{price}。",
        "认购书约定买受人应于七日内签订《房地产买卖合同》，逾期视为放弃认购，定金{deposit}不予退还。",
        "{staff}（{role}）陪同客户看房并介绍了户型、朝向及小区配套，客户对南北通透的户型表示满意。",
        "客户选择按揭付款方式，首付比例百分之三十，其余房款由银行按揭贷款支付。",
        "本次认购享受开盘优惠九八折，优惠金额已在总价中扣减，客户签字确认。",
    ],
    "签约": [
        "{date}，{customer}与本公司签订《房地产买卖合同》，合同编号{contract}，标的为{room}。",
        "合同总价款{price}，买受人已付首期款{deposit}，余款以银行按揭方式支付。",
        "出卖人应于合同约定的交付日期前将符合交付条件的商品房交付买受人使用。",
        "买受人逾期付款超过三十日的，出卖人有权解除合同，并按总价款的百分之五收取违约金。",
        "按揭银行已出具贷款承诺书，贷款期限二十年，借款人为{customer}。",
    ],
    "办证": [
        "{customer}名下{room}的房地产证已于{date}办理完毕，权属登记信息与合同{contract}一致。",
        "办证所需的身份证明、购房发票及契税完税证明已由{staff}收齐并提交登记机关。",
        "客户已领取房地产证原件，复印件归入客户档案，领证人签字栏由本人签署。",
        "因按揭贷款尚未结清，房地产证由按揭银行保管，客户持有他项权利证明复印件。",
    ],
    "入伙": [
        "《入伙通知书》已于{date}寄送{customer}，通知其办理{room}的入伙手续。",
        "业主验房时发现客厅墙面有轻微裂纹，{staff}已登记并承诺十五日内整改完毕。",
        "业主已缴纳首期物业管理费及装修押金{deposit}，领取钥匙三把及门禁卡两张。",
        "入伙资料包括《业主临时公约》《前期物业服务合同》及房屋使用说明书，业主签收。",
    ],
    "维修": [
        "{date}，{customer}报修{room}卫生间顶棚漏水，{staff}（{role}）当日上门查看。",
        "经检查，漏水原因为楼上住户卫生间防水层老化，已安排重新做防水并闭水试验四十八小时。",
        "业主反映主卧墙面开裂约一米，经工程部鉴定属于非结构性裂缝，已进行批荡修补。",
        "厨房排水管堵塞导致返水，维修技工疏通管道并更换了存水弯，业主验收合格。",
        "本次维修在保修期内，材料费及人工费由施工单位承担，维修记录一式两份。",
    ],
    "赔付": [
        "因{room}漏水造成业主{customer}的木地板及衣柜受损，双方于{date}签订《赔付协议》。",
        "经协商，本公司一次性赔付{customer}{compensation}，业主承诺不再就此事提出其他要求。",
        "赔付款已通过银行转账支付至业主指定账户，转账凭证复印件附后。",
        "本协议自双方签字盖章之日起生效，一式两份，双方各执一份，具有同等法律效力。",
    ],
    "诉讼": [
        "原告{customer}诉被告本公司商品房买卖合同纠纷一案，人民法院已于{date}作出判决。",
        "原告诉称被告逾期交房，请求判令被告支付逾期交房违约金{compensation}。",
        "经法院主持调解，双方自愿达成协议，被告于三十日内支付原告{compensation}，案件受理费减半收取。",
        "判决书确认合同{contract}合法有效，驳回原告的其他诉讼请求，本案已生效并结案归档。",
        "本案由法务专员{staff}跟进，卷宗另行立卷，客户档案中保存判决书复印件并注明案卷号。",
    ],
    "商铺租赁": [
        "承租人{customer}租赁{room}首层商铺，租赁面积{area}平方米，租期自{date}起三年。",
        "月租金{rent}，每年递增百分之五，承租人应于每月五日前缴纳当月租金。",
        "承租人已支付租赁保证金{deposit}，租赁期满无违约的，保证金无息退还。",
        "商铺仅限用于餐饮经营，承租人不得擅自改变用途或转租，否则出租人有权解除《租赁合同》。",
    ],
    "投诉": [
        "{date}，{customer}投诉{room}楼上住户夜间装修噪音，{staff}（{role}）已登记并回复。",
        "客服中心接到{customer}关于电梯运行异响的投诉，工程部已于次日检修并回访业主。",
        "业主反映小区绿化带积水滋生蚊虫，{staff}已安排清理并喷洒药物，业主表示满意。",
        "投诉处理结果已电话回访{customer}，客户确认问题已解决，本投诉登记关闭。",
    ],
    "其他": [
        "{customer}于{date}来电咨询{room}的车位租售事宜，{staff}已做好来电记录。",
        "业主提交更名申请，要求将{room}的联系人变更为其配偶，相关证明材料已复印存档。",
        "客户投诉小区绿化养护不及时，客服中心已转交物业管理处处理并回访，客户表示满意。",
        "本档案经档案员整理，共计文件若干份，卷内目录及备考表已填写完毕，立卷人签名。",
    ],
}
CATEGORY_TITLES = {
    "销售": ("认购书", "商品房认购须知", "客户看房登记表"),
    "签约": ("房地产买卖合同", "按揭贷款合同", "补充协议"),
    "办证": ("房地产证", "办证资料交接单", "契税完税证明"),
    "入伙": ("入伙通知书", "验房记录表", "钥匙签收单"),
    "维修": ("维修记录", "报修登记表", "维修验收单"),
    "赔付": ("赔付协议", "赔付款支付凭证", "损失确认书"),
    "诉讼": ("民事判决书", "民事调解书", "起诉状"),
    "商铺租赁": ("商铺租赁合同", "租金缴纳记录", "商铺交接确认书"),
    "投诉": ("投诉登记表", "投诉处理记录", "投诉回访记录"),
    "其他": ("来电记录", "更名申请", "客户投诉处理单"),
}


def chinese_paragraphs(
    category: str,
    rng: random.Random,
    n: int,
    *,
    customer: str | None = None,
    room: str | None = None,
    contract_no: str | None = None,
) -> list[str]:
    """`n` paragraphs of property-management prose for one document category.

    The customer, unit and contract number are drawn from `rng` unless given, and stay the
    same across the paragraphs so a document reads as one file about one customer.
    """
    if category not in _TEMPLATES:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(_TEMPLATES)}")
    facts = {
        "customer": customer or person_name(rng),
        "room": room or unit_address(rng),
        "contract": contract_no or contract_number(rng),
        "staff": person_name(rng),
        "role": rng.choice(_STAFF_ROLES),
        "date": _date(rng),
    }
    # Sentences are dealt from a shuffled deck so that one document does not repeat
    # itself until it has used every sentence of its category.
    deck: list[str] = []
    paragraphs = []
    for _ in range(n):
        sentences = []
        for _ in range(rng.randint(2, 4)):
            if not deck:
                deck = rng.sample(_TEMPLATES[category], k=len(_TEMPLATES[category]))
            sentences.append(deck.pop())
        paragraphs.append("".join(s.format(**facts, **_amounts(rng)) for s in sentences))
    return paragraphs


def _amounts(rng: random.Random) -> dict[str, str]:
    return {
        "area": f"{rng.randint(55, 180)}.{rng.randint(10, 99)}",
        "price": _money(rng, 800_000, 6_000_000),
        "deposit": _money(rng, 20_000, 100_000),
        "compensation": _money(rng, 2_000, 80_000),
        "rent": _money(rng, 8_000, 60_000),
    }


# ---- documents ---------------------------------------------------------------------


def make_pdf(title: str, paragraphs: list[str], *, author: str | None = None) -> bytes:
    """An A4 PDF with a real Chinese text layer: the title, then one block per paragraph.

    Long text flows onto further pages. pypdf reads the text back as written.
    """
    from fpdf import FPDF

    font = cjk_font(title + "".join(paragraphs) + (author or "") + "\u3000")
    with tempfile.TemporaryDirectory(prefix="juanzong-font-") as tmp:
        # fpdf2 only loads fonts from a path.
        font_path = Path(tmp) / "cjk.ttf"
        font_path.write_bytes(font)
        pdf = FPDF(format="A4")
        pdf.set_creation_date(FIXED_DATE)
        pdf.set_creator("Juanzong samples")
        pdf.set_title(title)
        if author:
            pdf.set_author(author)
        pdf.add_font("cjk", fname=font_path)
        # The glyphs' bounds and maxp are already exact (see fonts.cjk_font); letting
        # fontTools recompute them re-encodes every glyph and doubles the time per PDF.
        pdf.fonts["cjk"].ttfont.recalcBBoxes = False
        pdf.set_margins(20, 20, 20)
        pdf.set_auto_page_break(True, margin=20)
        pdf.add_page()
        pdf.set_font("cjk", size=16)
        pdf.multi_cell(0, 10, title, align="C", new_x="LMARGIN", new_y="NEXT", wrapmode="CHAR")
        pdf.ln(4)
        pdf.set_font("cjk", size=11)
        for paragraph in paragraphs:
            # Chinese paragraphs open with a two-character indent.
            pdf.multi_cell(0, 7, "\u3000\u3000" + paragraph, new_x="LMARGIN", new_y="NEXT", wrapmode="CHAR")
            pdf.ln(2)
        return bytes(pdf.output())


def make_docx(
    title: str,
    paragraphs: list[str],
    *,
    table: list[list[str]] | None = None,
    header: str | None = None,
    footer: str | None = None,
) -> bytes:
    """A DOCX with a heading, paragraphs, an optional table, header and footer.

    docProps/app.xml carries a page estimate, as Word writes one on save.
    """
    import docx
    from docx.oxml.ns import qn

    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name = "宋体"
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    document.core_properties.title = title
    document.core_properties.created = FIXED_DATE.replace(tzinfo=None)
    document.add_heading(title, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=max(len(row) for row in table))
        grid.style = "Table Grid"
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=False):
                cell.text = value
    section = document.sections[0]
    if header:
        section.header.paragraphs[0].text = header
    if footer:
        section.footer.paragraphs[0].text = footer
    out = io.BytesIO()
    document.save(out)
    chars = len(title) + sum(map(len, paragraphs)) + sum(len(v) for row in table or [] for v in row)
    return _normalise_docx(out.getvalue(), pages=max(1, math.ceil(chars / 700)))


def _normalise_docx(data: bytes, *, pages: int) -> bytes:
    """Rewrite the package with fixed timestamps (same input, same bytes) and a page count."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            payload = source.read(info)
            if info.filename == "docProps/app.xml":
                payload = payload.replace(b"<Pages>1</Pages>", b"<Pages>%d</Pages>" % pages)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE.timetuple()[:6])
            target.writestr(fixed, payload, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


# ---- images, sound, video ----------------------------------------------------------


def page_image(lines: list[str], size: tuple[int, int]):
    """A grey page with dark Chinese text on it, as a scanner or a phone camera gives."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 235)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(CJK_FONT), 14, index=cjk_face_index())
    y = 30
    for line in lines:
        for start in range(0, len(line), max(1, (size[0] - 60) // 15)):
            draw.text((30, y), line[start : start + (size[0] - 60) // 15], fill=40, font=font)
            y += 22
            if y > size[1] - 40:
                return image
    return image


def make_png(lines: list[str] | None = None, *, size: tuple[int, int] = (320, 240)) -> bytes:
    """A PNG photo of a page (Chinese text rendered into the pixels, no text layer)."""
    out = io.BytesIO()
    page_image(lines or ["入伙验房照片", "客厅墙面裂缝"], size).save(out, "PNG", optimize=True)
    return out.getvalue()


def make_jpeg(lines: list[str] | None = None, *, size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG photo of a page, like a phone picture of a paper document."""
    out = io.BytesIO()
    image = page_image(lines or ["维修现场照片", "卫生间顶棚漏水"], size).convert("RGB")
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def make_tiff(frames: int = 2, *, size: tuple[int, int] = (200, 280)) -> bytes:
    """A multi-page TIFF, one frame per scanned page."""
    pages = [page_image([f"扫描件第{i + 1}页", "房地产证复印件"], size) for i in range(frames)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    return out.getvalue()


def make_wav(seconds: float = 0.2, *, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of a 440 Hz tone (a telephone recording stand-in)."""
    samples = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(samples)
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def make_mp4(brand: bytes = b"isom") -> bytes:
    """An ISO base media file (ftyp, free, mdat boxes): MP4 magic without playable media.

    `brand` b"M4A " gives an m4a recording, b"3gp4" a phone video, b"qt  " a QuickTime movie.
    """
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 512) + brand + b"isommp41")
    return ftyp + _box(b"free", b"") + _box(b"mdat", bytes(range(256)) * 4)
