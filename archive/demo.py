"""The demo archive loaded by `flask --app archive demo-data` (and by `make run` once).

Everything goes through the same services as the UI, so the demo is also a smoke test:
departments, one user per role (two department heads), 30 customers on 45 units of 2
projects, their dossiers with cross-references, a litigation case file, and 200+ real PDF/DOCX documents.
"""

import random
from datetime import date, timedelta

from flask import current_app

from archive import samples
from archive.models import Department, Designation, Level
from archive.models.enums import CATEGORIES
from archive.services import (
    accounts,
    customers,
    filing,
    holds,
    indexing,
    organisation,
    personal_data,
    work,
)

DEPARTMENTS = [("销售经营部", "XS"), ("客服中心", "KF"), ("法律室", "FL"), ("总经理办公室", "ZB")]

# username, display name, role, department code, clearance. Passwords: DEMO_PASSWORDS.
USERS = [
    ("officer", "李档案", "officer", "ZB", Level.CONFIDENTIAL),
    ("staff", "王销售", "staff", "XS", Level.INTERNAL),
    ("service", "赵客服", "staff", "KF", Level.INTERNAL),
    ("head", "陈经理", "dept_head", "XS", Level.SECRET),
    # Every department has a head to decide its staff's loans (approvals refuses a
    # request nobody could decide); the GM-office director heads 总经理办公室.
    ("kfhead", "褚主管", "dept_head", "KF", Level.SECRET),
    ("flhead", "卫主任", "dept_head", "FL", Level.SECRET),
    ("gmoffice", "周主任", "gm_office", "ZB", Level.CONFIDENTIAL),
    ("legal", "孙法务", "legal", "FL", Level.SECRET),
    ("gm", "吴总", "gm", "ZB", Level.TOP_SECRET),
    ("auditor", "郑审计", "auditor", "ZB", Level.CONFIDENTIAL),
    ("admin", "系统管理员", "admin", None, Level.INTERNAL),
]
# 总经理办公室主任 (002:942, 002:946): a designation on a GM-office user, not a role.
DIRECTORS = {"gmoffice"}
# Fixed so the README can list them; `make run` prints them once as well.
DEMO_PASSWORDS = {
    "officer": "Jz2026-dangan", "staff": "Jz2026-xiaoshou", "service": "Jz2026-kefu",
    "head": "Jz2026-jingli", "kfhead": "Jz2026-kefuzhuguan", "gmoffice": "Jz2026-zongban",
    "flhead": "Jz2026-falvzhuren", "legal": "Jz2026-fawu",
    "gm": "Jz2026-zongjingli", "auditor": "Jz2026-shenji", "admin": "Jz2026-guanli",
}

PROJECTS = ["翠湖苑", "锦绣花园"]
COMPANIES = ["深圳市华南贸易有限公司", "鹏程投资发展有限公司", "南山科技有限公司",
             "前海供应链管理有限公司", "福田餐饮管理有限公司", "罗湖商贸有限公司"]


TITLES = {
    "销售": "认购书", "签约": "房地产买卖合同", "办证": "房地产证办理资料", "入伙": "入伙通知书及签收记录",
    "维修": "维修记录", "赔付": "赔付协议", "诉讼": "诉讼材料", "商铺租赁": "商铺租赁合同",
    "投诉": "投诉处理记录", "其他": "客户来函",
}


def _resident_id(n: int) -> str:
    """A valid Shenzhen 身份证 number (birth date and check digit) made from `n`."""
    born = date(1950, 1, 1) + timedelta(days=n % 18000)
    first17 = f"44030{n % 7}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + personal_data.id_check_digit(first17)


def _credit_code(n: int) -> str:
    """A valid 统一社会信用代码 (its check character) made from `n`."""
    first17 = f"91440300MA5{n % 10**6:06d}"
    return first17 + personal_data.uscc_check_character(first17)


def _title(category: str, name: str, room: str) -> str:
    return f"{name} {room} {TITLES[category]}"


def _units(rng: random.Random, n: int):
    seen, units = set(), []
    while len(units) < n:
        unit = (rng.choice(PROJECTS), str(rng.randint(1, 6)), str(rng.randint(1, 3)),
                f"{rng.randint(1, 28)}{rng.randint(1, 4):02d}")
        if unit not in seen:
            seen.add(unit)
            units.append(unit)
    return units


def load(session, echo=print, seed: int = 2026) -> None:
    """Create the demo archive (the caller has checked that it is empty): the people and
    the customers with their dossiers in one unit each, then one unit per document, as an
    import files its rows."""
    rng = random.Random(seed)
    departments, users = {}, {}
    with work.unit(session):
        for name, code in DEPARTMENTS:
            department = Department(name=name, code=code)
            session.add(department)
            departments[code] = department
        session.flush()
        for username, display, role, dept, level in USERS:
            users[username] = accounts.create_user(
                session, username=username, password=DEMO_PASSWORDS[username], role=role,
                department_id=departments[dept].id if dept else None, clearance=level,
                display_name=display)
            users[username].gm_office_director = username in DIRECTORS
        known = {p.name for p in organisation.list_projects(session)}
        for project in PROJECTS:  # the list the administrator keeps (dossiers choose from it)
            if project not in known:
                organisation.create_project(session, None, {"name": project})
    officer = users["officer"]
    fmt = current_app.config["DOSSIER_NUMBER_FORMAT"]
    store = current_app.extensions["blob_store"]
    limits = filing.Limits.from_config(current_app.config)

    with work.unit(session):
        owners = []
        for i in range(30):
            company = i % 5 == 4
            name = COMPANIES[(i // 5) % len(COMPANIES)] if company else samples.person_name(rng)
            dept = "KF" if i % 7 == 3 else ("FL" if i == 29 else "XS")
            owners.append(customers.create_customer(session, officer, {
                "name": name,  # the code in the archive's one form (CUSTOMER_CODE_FORMAT)
                "kind": "company" if company else "person",
                "id_number": (_resident_id(rng.randint(10**13, 10**14 - 1)) if not company
                              else _credit_code(rng.randint(10**6, 10**7 - 1))),
                "phone": f"13{rng.randint(100000000, 999999999)}",
                "grade": rng.choice(["普通", "普通", "重要", "潜在"]),
                "department": departments[dept].id,
            }))
        # 45 units: every customer one, fifteen of them a second (cross-referenced dossiers).
        unit_list = _units(rng, 45)
        holders = owners + owners[:15]
        dossiers = []
        for owner, (project, building, unit_no, room) in zip(holders, unit_list, strict=True):
            dossiers.append(customers.create_dossier(session, officer, {
                "customer_id": owner.id, "project": project, "building": building,
                "unit_no": unit_no, "room": room, "location": f"档案室 {rng.randint(1, 8)} 号柜",
                "checked_by": "周主任",
            }, number_format=fmt))

    count = 0
    for n, dossier in enumerate(dossiers):
        unit = dossier.unit
        room = f"{unit.project}{unit.building}栋{unit.unit_no}单元{unit.room}"
        contract = f"HT-{2018 + n % 7}-{n + 1:04d}"
        # The fifth item cycles through the other categories, so each one is in the demo.
        others = [c for c in CATEGORIES if c not in ("销售", "签约", "入伙", "维修")]
        categories = ["销售", "签约", "入伙", "维修", others[n % len(others)]]
        for k, category in enumerate(categories):
            paragraphs = samples.chinese_paragraphs(
                category, rng, rng.randint(3, 6), customer=dossier.customer.name, room=room,
                contract_no=contract)
            title = _title(category, dossier.customer.name, room)
            level = Level.INTERNAL
            if category == "诉讼":
                level = Level.SECRET
            elif category == "赔付" and n % 2:
                level = Level.CONFIDENTIAL
            uploads = []
            if (n + k) % 9 != 0:  # every ninth item is catalogued as paper only
                if (n + k) % 3:
                    data = samples.make_pdf(title, paragraphs)
                    uploads = [filing.Upload(f"{title}.pdf", data)]
                else:
                    data = samples.make_docx(title, paragraphs, header=room)
                    uploads = [filing.Upload(f"{title}.docx", data)]
            doc_date = date(2018 + n % 7, 1 + k * 2, 1 + n % 27) + timedelta(days=k)
            with work.unit(session):
                filing.file_document(session, officer, dossier.id, {
                    "title": title, "category": category, "classification": int(level),
                    "date": doc_date.isoformat(), "originator": samples.person_name(rng),
                    "pages": "" if uploads else str(rng.randint(1, 12)),
                }, uploads, store=store, limits=limits, index=False)
            count += 1

    # A litigation case file (法律室) and the judgment in the customer dossier that points to it.
    with work.unit(session):
        plaintiff = owners[0]
        case = customers.create_dossier(session, officer, {
            "customer_id": plaintiff.id, "kind": "case", "number": "(2024)粤0305民初1234号",
            "title": f"{plaintiff.name}房屋质量纠纷案", "classification": int(Level.SECRET),
        }, number_format=fmt)
        judgment_text = samples.chinese_paragraphs("诉讼", rng, 4, customer=plaintiff.name)
        for title, day in (("民事起诉状", "2024-03-05"), ("应诉材料及证据目录", "2024-04-18"),
                           ("民事判决书（原件）", "2024-09-12")):
            filing.file_document(session, officer, case.id, {
                "title": title, "category": "诉讼", "date": day,
            }, [filing.Upload(f"{title}.pdf", samples.make_pdf(title, judgment_text))],
                store=store, limits=limits, index=False)
            count += 1
        judgment = filing.file_document(session, officer, dossiers[0].id, {
            "title": "民事判决书（复印件）", "category": "诉讼", "classification": int(Level.SECRET),
            "date": "2024-09-12",
        }, [filing.Upload("民事判决书.pdf", samples.make_pdf("民事判决书", judgment_text))],
            store=store, limits=limits, index=False)
        customers.add_reference(session, officer, dossiers[0].id, {
            "to_dossier_id": case.id, "document_id": judgment.id, "kind": "case_file",
            "note": "结案证明资料：判决书",
        })
        # One 绝密 record, open only to the GM and the person he designated.
        secret = filing.file_document(session, users["gm"], dossiers[1].id, {
            "title": "重大投诉处理决定（绝密）", "category": "其他",
            "classification": int(Level.TOP_SECRET), "date": "2025-03-01",
        }, [filing.Upload("处理决定.pdf", samples.make_pdf(
            "重大投诉处理决定", samples.chinese_paragraphs("赔付", rng, 3)))],
            store=store, limits=limits, index=False)
        session.add(Designation(user_id=users["legal"].id, document_id=secret.id,
                                designated_by_id=users["gm"].id))
    count += 2
    # Material 销售经营部 filed itself and still holds (部门保管 · 待移交, issue 19): the
    # transfers dashboard has work on a new install; one 认购书 is past its 5 working days.
    for title, category, day in (("认购书（销售现场）", "销售", "2026-10-12"),
                                 ("购房合同（待移交）", "签约", "2026-11-20"),
                                 ("房产证办理资料（待移交）", "办证", "")):
        with work.unit(session):
            filing.file_document(session, users["staff"], dossiers[2].id, {
                "title": title, "category": category, "date": day, "pages": "2"},
                [], store=store, limits=limits, index=False)
        count += 1
    # A legal hold (issue 17): this customer's files cannot be destroyed until it is lifted.
    with work.unit(session):
        holds.place(session, officer, {"customer_id": owners[4].id,
                                       "reason": "诉讼保全（演示）：客户投诉纠纷尚在处理中"})
    indexing.rebuild(session)
    echo(f"演示数据已载入：{len(owners)} 位客户，{len(dossiers) + 1} 份档案，{count} 份文件")
    echo("演示账号（密码只显示这一次，也记在 README 中）：")
    for username, display, role, _dept, level in USERS:
        echo(f"  {username:<10} {DEMO_PASSWORDS[username]:<22} {role:<10} {level.label}  {display}")
