"""A deterministic archive of Chinese property-management documents for benchmarks.

Document i depends only on (seed, i), so every engine in a run can regenerate the
same corpus without holding it in memory.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

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


def room(rng: random.Random) -> tuple[str, int, int, str]:
    return (rng.choice(ESTATES), rng.randint(1, 30), rng.randint(1, 4),
            f"{rng.randint(1, 33):02d}{rng.randint(1, 4):02d}")


def contract(rng: random.Random) -> str:
    return f"HT-{rng.randint(2015, 2025)}-{rng.randint(1, 9999):04d}"


def document(seed: int, i: int, departments: int = 6) -> dict:
    """Document number `i` (an IndexDoc dict) of the corpus for `seed`."""
    rng = random.Random(seed * 1_000_003 + i)
    customer_id = rng.randint(1, max(1, i // 8 + 1))  # about eight documents per customer
    crng = random.Random(seed * 7_919 + customer_id)  # a customer's own facts are stable
    name = crng.choice(SURNAMES) + "".join(crng.choices(GIVEN, k=crng.randint(1, 2)))
    estate, building, entrance, number = room(crng)
    category = rng.choice(CATEGORIES)
    code = contract(crng)
    sentences = [f"客户{name}，房号{estate}{building}栋{entrance}单元{number}，合同编号{code}。"]
    while sum(map(len, sentences)) < 650:
        pool = TOPICS[category] if rng.random() < 0.6 else rng.choice(list(TOPICS.values()))
        sentence = rng.choice(pool) if rng.random() < 0.8 else rng.choice(COMMON)
        sentences.append(sentence + rng.choice("，。；。"))
    doc_date = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 3800))
    department_id = rng.randint(1, departments)
    return {
        "id": i + 1, "dossier_id": customer_id * 3 + rng.randint(0, 2), "customer_id": customer_id,
        "title": f"{name}{category}档案{rng.choice(TOPICS[category])[:8]}",
        "text": "".join(sentences),
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


def documents(seed: int, count: int) -> Iterator[dict]:
    """The first `count` documents of the corpus for `seed`."""
    return (document(seed, i) for i in range(count))
