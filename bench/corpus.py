"""A deterministic archive of Chinese property-management documents for benchmarks.

Document i depends only on (seed, i), so every engine in a run can regenerate the
same corpus without holding it in memory.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Iterator

import opencc

ESTATES = ["翠湖苑", "金桂园", "碧水湾", "锦绣华庭", "阳光城", "御景台", "枫林苑", "海棠湾",
           "紫荆花园", "滨江壹号", "天悦府", "清华园"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华建国志红玉兰文辉鹏飞燕"
CATEGORIES = ["销售", "签约", "办证", "入伙", "维修", "赔付", "诉讼", "商铺租赁", "其他"]
CARRIERS = ["纸质", "电子", "照片", "录音", "录像"]
DEPARTMENTS = {1: "物业服务部", 2: "客户关系部", 3: "法务部", 4: "销售部", 5: "工程部",
               6: "财务部"}
RETENTION = ["永久", "长期", "短期"]

TOPICS = {
    "销售": ["客户到访售楼处咨询户型与价格", "置业顾问介绍了项目的交通配套与学区情况",
           "客户对朝南三居室表示兴趣并预约复看", "销售经理同意给予团购优惠"],
    "签约": ["客户签署认购书并交纳定金", "双方确认商品房买卖合同的主要条款",
           "合同约定交房时间及逾期违约责任", "签约时核对了购房人身份证明与婚姻状况"],
    "办证": ["产权证书办理所需材料已提交不动产登记中心", "契税与公共维修基金已缴纳完毕",
           "业主委托物业代办房屋所有权证", "登记中心通知补充提交原始购房发票"],
    "入伙": ["业主办理入伙手续并领取钥匙", "入伙时对房屋进行了验收并填写验房单",
           "水电燃气表底数已抄录并双方签字确认", "物业发放了业主手册与装修管理规定"],
    "维修": ["业主报修卫生间漏水，工程部上门检修", "墙面开裂经维修后重新粉刷",
           "维修记录显示更换了入户门锁与厨房水龙头", "电梯故障报修后由维保单位处理",
           "外墙渗水导致卧室墙面发霉需要维修"],
    "赔付": ["因漏水造成业主家具损坏，协商赔偿金额", "保险公司对车位被淹车辆进行定损理赔",
           "双方签订赔偿协议后款项已支付", "业主对赔付方案表示满意并签字确认"],
    "诉讼": ["业主因逾期交房向法院提起诉讼", "法院判决开发商支付违约金",
           "律师函要求限期整改房屋质量问题", "案件经调解结案并形成调解书"],
    "商铺租赁": ["商铺租赁合同约定租期与租金递增方式", "租户申请装修临街商铺并提交图纸",
             "租户拖欠物业管理费已发催缴通知", "商铺退租时进行了交接验收"],
    "其他": ["业主投诉小区噪音问题，客服已登记", "物业管理处组织消防演练",
           "停车位使用规则调整并张贴公告", "绿化带改造工程完成后进行回访"],
}
COMMON = ["客服人员及时回访并记录业主意见", "相关资料已扫描归档备查", "经办人签字确认后移交档案室",
          "本次处理过程符合公司服务标准", "业主对处理结果表示认可", "如有疑问请联系物业服务中心",
          "现场照片与整改通知一并存档", "请各部门按照时间节点跟进落实"]


# --- the varied corpus (default) ---------------------------------------------------
# Sentences are assembled from templates whose slots draw from large pools (people,
# companies, rooms, parts, defects, amounts, dates), sampled without repetition inside
# a document, and one document in seven is written in traditional script. A substring
# of one document is then as common or as rare as it would be in a real archive: shared
# phrasing matches many documents, names, amounts and details few.

CITIES = ["深圳", "广州", "佛山", "东莞", "珠海", "惠州", "中山", "江门", "长沙", "武汉", "成都",
          "重庆", "杭州", "南京", "苏州", "厦门"]
FIRMS = ["恒达", "安居", "宏远", "建业", "顺通", "华信", "永安", "百盛", "金石", "鼎力", "瑞丰",
         "嘉禾", "鸿运", "天成", "信和", "立德", "万通", "正源"]
FIRM_KINDS = ["电梯工程有限公司", "建筑安装工程有限公司", "防水材料有限公司", "律师事务所",
              "财产保险股份有限公司", "装饰工程有限公司", "机电设备有限公司", "清洁服务有限公司",
              "园林绿化有限公司", "消防工程有限公司"]
ROOMS = ["卫生间", "厨房", "主卧", "次卧", "客厅", "阳台", "书房", "地下车库", "楼道", "电梯厅",
         "屋面", "外墙", "地下室", "储藏室", "玄关", "餐厅", "设备间", "露台"]
DEFECTS = ["漏水", "渗水", "墙面开裂", "瓷砖空鼓", "地漏堵塞", "插座无电", "门锁损坏", "窗户关不严",
           "水管爆裂", "天花板掉灰", "墙面发霉", "下水道返味", "冷凝水外溢", "防水层失效",
           "木地板起拱", "玻璃自爆", "排水不畅", "电路跳闸", "门框变形", "踢脚线脱落"]
PARTS = ["水龙头", "角阀", "入户门锁", "合页", "闭门器", "吸顶灯", "开关面板", "排风扇", "热水器",
         "燃气表", "水表", "配电箱", "防盗门", "纱窗", "地漏", "马桶水箱", "淋浴花洒", "可视对讲机",
         "烟感探测器", "窗户密封条"]
PAPERS = ["身份证复印件", "户口簿", "结婚证", "购房发票", "完税证明", "授权委托书", "收款收据",
          "验房单", "房屋交接单", "整改通知书", "律师函", "民事起诉状", "民事判决书", "调解书",
          "租赁合同", "补充协议", "维修派工单", "现场照片", "签收回执", "定损报告"]
ROLES = ["客服专员", "物业管家", "工程主管", "维修技工", "置业顾问", "法务专员", "项目经理",
         "财务出纳", "档案管理员", "安全主任"]
OUTCOMES = ["业主表示满意", "双方签字确认", "已录入系统备查", "待下周复查", "问题已全部整改",
            "客户对结果无异议", "已报部门负责人审批", "需要进一步协商", "已通知相关责任单位",
            "费用由保修金列支", "客户要求书面答复", "已安排专人跟进"]

TEMPLATES = {
    "销售": ["{date}，客户{name}在{estate}售楼处咨询{area}平方米户型，接待人为{role}{staff}",
           "{name}关注{estate}的学区与交通配套，希望在{month}月前确定购买意向",
           "{role}{staff}向客户介绍了{building}栋的楼层差价，单价约{price}元",
           "客户{name}提出团购优惠申请，折扣方案报销售经理{staff}审批",
           "{name}复看样板间后对{room}的采光提出意见，{outcome}"],
    "签约": ["{date}，{name}签署认购书并交纳定金{amount}元，收据编号SJ{serial}",
           "商品房买卖合同约定于{year}年{month}月{day}日前交付，逾期按日万分之{rate}支付违约金",
           "签约时核对了{name}的{paper}与{paper2}，由{role}{staff}经办",
           "合同总价款人民币{amount}元，首付{percent}%，其余通过{bank}按揭",
           "{name}申请变更共有人，已补充签订{paper2}"],
    "办证": ["{date}，{name}的产权登记材料已提交{city}不动产登记中心，受理号{serial}",
           "契税{amount}元与公共维修基金已缴纳，完税证明存于档案袋",
           "{name}委托物业代办不动产权证书，提交了{paper}",
           "登记中心通知补交{paper2}，{role}{staff}已电话告知业主",
           "不动产权证书于{year}年{month}月{day}日领取，{outcome}"],
    "入伙": ["{date}，业主{name}办理入伙手续并领取{keys}把钥匙",
           "入伙验房发现{room}{defect}，已登记在验房单第{n}项",
           "水表读数{reading}吨、电表读数{reading2}度，双方签字确认",
           "物业向{name}发放业主手册与装修管理规定，装修押金{amount}元",
           "{name}对{room}提出整改要求，整改期限{n}个工作日"],
    "维修": ["{date}，业主{name}报修{room}{defect}，{role}{staff}于{n}小时内上门",
           "经检查为{part}老化所致，更换后试用正常，{outcome}",
           "{company}对{room}{defect}进行返修，质保期{n}个月",
           "维修派工单编号WX{serial}，材料费{amount}元由保修金承担",
           "{name}反映{room}再次{defect}，工程部安排{staff}复查"],
    "赔付": ["{date}，因{room}{defect}造成{name}家具损坏，协商赔偿{amount}元",
           "{company}对车位被淹车辆定损，定损金额{amount}元",
           "赔偿协议约定在{n}个工作日内支付，付款凭证编号PF{serial}",
           "{name}对赔付方案提出异议，要求补偿误工费{amount2}元",
           "赔付款已通过{bank}转账支付，{outcome}"],
    "诉讼": ["{date}，{name}以逾期交房为由向{city}人民法院提起诉讼，案号（{year}）民初{serial}号",
           "{company}代理本案，律师{staff}提交了{paper}",
           "法院判决支付违约金{amount}元，案件受理费由被告承担",
           "双方于{year}年{month}月{day}日达成调解，{outcome}",
           "{name}就{room}{defect}发出律师函，要求{n}日内整改"],
    "商铺租赁": ["{date}，租户{name}承租{estate}临街商铺{n}号，月租金{amount}元",
             "租赁合同约定租期{n}年，租金每年递增{percent}%",
             "租户申请装修并提交图纸，由{company}施工",
             "租户拖欠物业管理费{amount2}元，已发出第{n}次催缴通知",
             "商铺退租交接时发现{room}{defect}，押金扣除{amount2}元"],
    "其他": ["{date}，业主{name}投诉夜间噪音，客服{staff}已登记处理",
           "物业管理处组织{building}栋消防演练，参加人数{n}人",
           "停车位使用规则调整，月卡费用调整为{price}元",
           "绿化带改造由{company}完成，{outcome}",
           "{name}建议增设充电桩，{role}{staff}答复将提交业委会讨论"],
}
GENERIC = ["客服人员于{date}回访，{name}表示{outcome2}", "相关资料已扫描归档，原件存放于第{n}号档案柜",
           "经办人{staff}签字确认后移交档案室", "本次处理符合公司服务标准，{outcome}",
           "如有疑问请拨打服务热线{phone}", "现场照片{n}张与{paper}一并存档",
           "请{role}按照时间节点跟进落实", "{date}召开协调会，{company}派员参加",
           "{role}{staff}核对了{paper}的原件与复印件", "附件包括{paper}、{paper2}共{n}页",
           "该事项已在{year}年度客户满意度调查中反馈", "联系人{staff}，联系电话{phone}",
           "{name}于{date}签收了书面答复", "抄送工程部、客户关系部及法务部",
           "本记录一式{copies}份，双方各执一份", "审批人{staff}意见：同意，{outcome}"]


def _pick(rng: random.Random, pool: list[str]) -> str:
    return rng.choice(pool)


def _slots(rng: random.Random, name: str, estate: str) -> dict[str, object]:
    """Fresh fillers for one sentence; the customer and the estate stay the document's."""
    d = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 3800))
    two = rng.sample(PAPERS, 2)
    return {
        "date": f"{d.year}年{d.month}月{d.day}日", "year": rng.randint(2015, 2025),
        "month": rng.randint(1, 12), "day": rng.randint(1, 28), "name": name, "estate": estate,
        "staff": person(rng), "role": _pick(rng, ROLES), "room": _pick(rng, ROOMS),
        "defect": _pick(rng, DEFECTS), "part": _pick(rng, PARTS), "paper": two[0],
        "paper2": two[1], "outcome": _pick(rng, OUTCOMES), "outcome2": _pick(rng, OUTCOMES),
        "company": company(rng), "city": _pick(rng, CITIES), "n": rng.randint(2, 48),
        "amount": rng.randint(300, 900_000), "amount2": rng.randint(100, 60_000),
        "price": rng.randint(80, 60_000), "area": rng.randint(45, 260),
        "building": rng.randint(1, 30), "serial": f"{rng.randint(1, 99999):05d}",
        "rate": rng.randint(1, 5), "percent": rng.choice([3, 5, 10, 20, 30, 35, 40]),
        "keys": rng.randint(2, 6), "reading": rng.randint(0, 999),
        "reading2": rng.randint(0, 9999), "copies": rng.choice("二三四"),
        "bank": _pick(rng, ["工商银行", "建设银行", "农业银行", "招商银行", "中国银行", "交通银行"]),
        "phone": f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}",
    }


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))


def company(rng: random.Random) -> str:
    return rng.choice(CITIES) + rng.choice(FIRMS) + rng.choice(FIRM_KINDS)


FEES = ["物业管理费", "定金", "装修押金", "违约金", "契税", "公共维修基金", "停车费", "水电费",
        "垃圾清运费", "租金", "滞纳金", "诉讼费", "评估费", "保险理赔款", "公摊电费", "门禁卡工本费"]
TIMES = ["{date}", "当日下午", "次日上午", "{n}日后", "经协商后", "根据合同约定", "接到通知后",
         "在约定期限内", "节假日期间", "{year}年{month}月", "回访时", "验收前", "交房当天"]
ACTS = [  # (verbs, object pool): a verb only meets objects it can take
    (["提交了", "核对了", "补充了", "出具了", "送达了", "签收了", "复印了", "审核了", "退回了",
      "归档了"], PAPERS),
    (["更换了", "检查了", "维修了", "安装了", "拆除了", "调试了", "清洗了", "加固了"], PARTS),
    (["缴纳了", "支付了", "退还了", "扣除了", "催缴了", "减免了", "结清了", "核算了"], FEES),
    (["反映了", "投诉了", "处理了", "整改了", "复查了", "登记了", "跟进了", "协调了"],
     [f"{r}{d}" for r in ROOMS for d in DEFECTS]),
]
SUBJECTS = ["业主{name}", "{role}{staff}", "{company}", "工程部{staff}", "客户关系部", "法务部{staff}",
            "财务部", "物业服务中心", "{name}的家属", "租户{name}", "{city}分公司", "业委会"]
AMOUNTS = ["，金额{amount2}元", "，共计{amount}元", "，计{n}项", "，用时{n}小时", "", "", ""]


def _clause(rng: random.Random, slots: dict[str, object]) -> str:
    """One sentence from the little grammar: [when] who did what [to how much] [outcome]."""
    verbs, objects = rng.choice(ACTS)
    parts = [rng.choice(SUBJECTS), rng.choice(verbs), rng.choice(objects), rng.choice(AMOUNTS)]
    if rng.random() < 0.5:
        parts.insert(0, rng.choice(TIMES) + "，")
    if rng.random() < 0.3:
        parts.append("，" + rng.choice(OUTCOMES))
    return "".join(parts).format(**slots)


def _varied_text(rng: random.Random, category: str, name: str, estate: str) -> list[str]:
    """About 650 characters: a few sentences of the category's own kind, a little
    boilerplate, and the rest from the grammar."""
    fixed = rng.sample(TEMPLATES[category], 3) + rng.sample(GENERIC, 2)
    sentences: list[str] = []
    while sum(map(len, sentences)) < 650:
        slots = _slots(rng, name, estate)
        if fixed and rng.random() < 0.35:
            sentence = fixed.pop().format(**slots)
        else:
            sentence = _clause(rng, slots)
        sentences.append(sentence + rng.choice("，。；。"))
    return sentences


def room(rng: random.Random) -> tuple[str, int, int, str]:
    return (rng.choice(ESTATES), rng.randint(1, 30), rng.randint(1, 4),
            f"{rng.randint(1, 33):02d}{rng.randint(1, 4):02d}")


def contract(rng: random.Random) -> str:
    return f"HT-{rng.randint(2015, 2025)}-{rng.randint(1, 9999):04d}"


STYLES = ("varied", "repetitive")
TRADITIONAL_SHARE = 1 / 7


def document(seed: int, i: int, departments: int = 6, style: str = "varied") -> dict:
    """Document number `i` (an IndexDoc dict) of the corpus for `seed` and `style`.

    `repetitive` is the stress case: every sentence comes from a pool of 45 fixed ones,
    so each document repeats the few of its category many times and a 4-character
    query matches about 40 % of all documents."""
    rng = random.Random(seed * 1_000_003 + i)
    customer_id = rng.randint(1, max(1, i // 8 + 1))  # about eight documents per customer
    crng = random.Random(seed * 7_919 + customer_id)  # a customer's own facts are stable
    name = person(crng)
    estate, building, entrance, number = room(crng)
    category = rng.choice(CATEGORIES)
    code = contract(crng)
    head = f"客户{name}，房号{estate}{building}栋{entrance}单元{number}，合同编号{code}。"
    if style == "repetitive":
        sentences = [head]
        while sum(map(len, sentences)) < 650:
            pool = TOPICS[category] if rng.random() < 0.6 else rng.choice(list(TOPICS.values()))
            sentence = rng.choice(pool) if rng.random() < 0.8 else rng.choice(COMMON)
            sentences.append(sentence + rng.choice("，。；。"))
        title = f"{name}{category}档案{rng.choice(TOPICS[category])[:8]}"
    else:
        sentences = [head, *_varied_text(rng, category, name, estate)]
        title = f"{name}{category}档案{sentences[1][:12].rstrip('，。；')}"
    text = "".join(sentences)
    if style != "repetitive" and rng.random() < TRADITIONAL_SHARE:
        title, text = _traditional(title), _traditional(text)
    doc_date = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 3800))
    department_id = rng.randint(1, departments)
    return {
        "id": i + 1, "dossier_id": customer_id * 3 + rng.randint(0, 2), "customer_id": customer_id,
        "title": title, "text": text,
        "customer_name": name, "customer_code": f"KH-{customer_id:06d}",
        "dossier_number": f"{estate}-{building}栋{entrance}单元{number}",
        "unit": f"{estate} {building}栋 {entrance}单元 {number}",
        "category": category, "carrier": rng.choice(CARRIERS),
        "classification": rng.choices(range(5), weights=[30, 40, 18, 9, 3])[0],
        "retention": rng.choice(RETENTION), "department_id": department_id,
        "department": DEPARTMENTS.get(department_id, f"部门{department_id}"),
        "doc_date": doc_date if rng.random() < 0.97 else None,
        "filed_at": dt.datetime.combine(doc_date, dt.time(9, 30)),
        "file_names": [f"{category}-{i + 1:07d}.pdf"],
        "readers": [rng.randint(1, 500)] if rng.random() < 0.05 else [],
    }


@functools.lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def _traditional(text: str) -> str:
    return _s2t().convert(text)


def documents(seed: int, count: int, style: str = "varied") -> Iterator[dict]:
    """The first `count` documents of the corpus for `seed` and `style`."""
    return (document(seed, i, style=style) for i in range(count))
