"""The archive's fixed words as the pages show them: stored and validated in Chinese (the
keys in archive/models/enums.py), translated for the English UI here (issue 18). The
printed forms — cover, 卷内目录, 备考表 — stay Chinese in both UIs (web/dossiers.py)."""

from flask_babel import lazy_gettext

# Each msgid is written out so `make translations` finds it.
LABELS = {
    # 密级
    "公开": lazy_gettext("公开"), "内部": lazy_gettext("内部"), "秘密": lazy_gettext("秘密"),
    "机密": lazy_gettext("机密"), "绝密": lazy_gettext("绝密"),
    # 类别
    "销售": lazy_gettext("销售"), "签约": lazy_gettext("签约"), "办证": lazy_gettext("办证"),
    "入伙": lazy_gettext("入伙"), "维修": lazy_gettext("维修"), "赔付": lazy_gettext("赔付"),
    "诉讼": lazy_gettext("诉讼"), "商铺租赁": lazy_gettext("商铺租赁"),
    "其他": lazy_gettext("其他"), "投诉": lazy_gettext("投诉"),
    # 载体
    "纸质": lazy_gettext("纸质"), "电子": lazy_gettext("电子"), "照片": lazy_gettext("照片"),
    "录音": lazy_gettext("录音"), "录像": lazy_gettext("录像"),
    # 分组
    "销售、签约、办证及入伙资料": lazy_gettext("销售、签约、办证及入伙资料"),
    "维修/赔付资料": lazy_gettext("维修/赔付资料"), "其他资料": lazy_gettext("其他资料"),
    "出租期资料": lazy_gettext("出租期资料"), "销售历史资料": lazy_gettext("销售历史资料"),
    "案卷文件": lazy_gettext("案卷文件"),
    # 保管期限
    "永久": lazy_gettext("永久"), "长期": lazy_gettext("长期"), "短期": lazy_gettext("短期"),
    # 角色
    "档案员": lazy_gettext("档案员"), "员工": lazy_gettext("员工"),
    "部门负责人": lazy_gettext("部门负责人"), "总经理办公室": lazy_gettext("总经理办公室"),
    "法律室": lazy_gettext("法律室"), "总经理/副总经理": lazy_gettext("总经理/副总经理"),
    "审计员": lazy_gettext("审计员"), "系统管理员": lazy_gettext("系统管理员"),
    # 客户等级、规模
    "重要": lazy_gettext("重要"), "普通": lazy_gettext("普通"), "潜在": lazy_gettext("潜在"),
    "大": lazy_gettext("大"), "中": lazy_gettext("中"), "小": lazy_gettext("小"),
    # 错误 (archive/errors.py)
    "请求无效": lazy_gettext("请求无效"), "请先登录": lazy_gettext("请先登录"),
    "无权执行此操作": lazy_gettext("无权执行此操作"),
    "页面或对象不存在": lazy_gettext("页面或对象不存在"),
    "不支持的请求方法": lazy_gettext("不支持的请求方法"), "文件过大": lazy_gettext("文件过大"),
    "不支持的文件类型": lazy_gettext("不支持的文件类型"),
    "提交的数据有误": lazy_gettext("提交的数据有误"),
    "尝试次数过多，请稍后再试": lazy_gettext("尝试次数过多，请稍后再试"),
    "服务器内部错误": lazy_gettext("服务器内部错误"), "存储空间不足": lazy_gettext("存储空间不足"),
    "客户不存在": lazy_gettext("客户不存在"), "档案不存在": lazy_gettext("档案不存在"),
    "文件不存在": lazy_gettext("文件不存在"), "对象不存在": lazy_gettext("对象不存在"),
}


def label(value) -> str:
    """`value` (a stored Chinese word) in the page's language; other values as they are."""
    found = LABELS.get(str(value)) if value is not None else None
    return str(found) if found is not None else ("" if value is None else str(value))
