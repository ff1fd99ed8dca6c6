"""The audit trail in an auditor's words (issue 18): actions and object types by their
Chinese names, each event's object named (档号, 题名, a person's name) where the reader may
see it, and its details as labelled fields. The codes stay in the trail, the API and
the CSV export; this only reads them."""

import json
from dataclasses import dataclass

from sqlalchemy import select

from archive.services import access, personal_data

ACTIONS = {
    "access.denied": "拒绝访问",
    "request.refused": "请求被拒（提交未执行）",
    "login.succeeded": "登录", "login.failed": "登录失败", "logout": "退出登录",
    "password.changed": "修改密码", "password.change_failed": "修改密码失败",
    "token.created": "创建 API 令牌", "token.revoked": "撤销 API 令牌",
    "session.ended": "结束会话",
    "user.created": "新建用户", "user.updated": "修改用户", "user.deactivated": "停用账号",
    "user.reactivated": "恢复账号", "user.password_reset": "重置密码",
    "department.created": "新建部门", "department.updated": "修改部门",
    "project.created": "新建项目", "project.updated": "修改项目",
    "customer.created": "登记客户", "customer.viewed": "查看客户",
    "customer.corrected": "更正客户", "customer.merged": "合并客户",
    "dossier.created": "建立档案", "dossier.viewed": "查看档案", "dossier.corrected": "更正档案",
    "dossier.referenced": "建立参照", "dossier.reference_removed": "删除参照",
    "dossier.closed": "封卷", "dossier.reopened": "撤销封卷", "dossier.case_closed": "结案",
    "dossier.destroyed": "整卷销毁",
    "document.uploaded": "归档文件", "document.upload_replayed": "重复提交（未重复归档）",
    "document.viewed": "查看文件", "document.preview": "预览文件",
    "document.download": "下载文件", "document.moved": "移动文件",
    "document.corrected": "更正文件", "document.withdrawn": "撤销归档",
    "search": "检索",
    "audit.viewed": "查看审计日志", "audit.exported": "导出审计日志",
    "audit.verified": "校验审计链", "audit.key_rotated": "轮换审计密钥",
    "classification.changed": "密级变更",
    "approval.requested": "提交申请", "approval.approved": "批准", "approval.rejected": "驳回",
    "approval.withdrawn": "撤回申请", "approval.approve": "批准（被拒）",
    "approval.reject": "驳回（被拒）", "approval.withdraw": "撤回（被拒）",
    "route.changed": "审批路线变更",
    "grant.created": "授予查阅权限", "grant.revoked": "撤销查阅权限",
    "designation.created": "指定绝密知悉人", "designation.revoked": "撤销绝密指定",
    "copy.approved": "批准复制绝密文件", "copy.revoked": "撤销复制批准",
    "loan.requested": "申请借阅", "loan.approved": "批准借阅", "loan.checked_out": "借出",
    "loan.returned": "归还", "loan.renewal_requested": "申请续借", "loan.renewed": "续借",
    "loan.loss_reported": "报告遗失/损毁", "loan.loss_closed": "遗失/损毁处理完毕",
    "loan.viewed": "借阅查看", "loan.downloaded": "借阅下载", "loan.copy_made": "制作复制件",
    "loan.scan_viewed": "查看证件扫描件", "loan.checkout": "借出（被拒）",
    "loan.return": "归还（被拒）",
    "calendar.day_set": "设置工作日历", "calendar.day_removed": "删除工作日历日期",
    "retention.rule_changed": "修改保管期限表", "retention.appraised": "鉴定",
    "hold.placed": "冻结", "hold.lifted": "解除冻结",
    "destruction.proposed": "提出销毁", "destruction.approved": "批准销毁",
    "destruction.started": "开始销毁", "destruction.executed": "执行销毁",
    "destruction.execute": "执行销毁（被拒）", "destruction.drop_item": "移出销毁清册（被拒）",
    "destruction.item_dropped": "移出销毁清册",
    "destruction.emptied": "销毁清单文件均已撤出",
    "destruction.registered": "登记销毁清册",
    "destruction.compacted": "销毁后清除数据库残留",
}

OBJECT_TYPES = {
    "document": "文件", "dossier": "档案", "customer": "客户", "user": "用户",
    "department": "部门", "project": "项目", "loan": "借阅", "approvalrequest": "审批申请",
    "classificationchange": "密级变更", "grant": "查阅授权", "accessgrant": "查阅授权",
    "designation": "绝密指定", "copyapproval": "复制批准", "approvalroute": "审批路线",
    "calendarday": "工作日历", "destruction": "销毁", "legalhold": "冻结",
    "retentionrule": "保管期限", "lossreport": "遗失/损毁报告", "file": "文件",
}

OUTCOMES = {"ok": "成功", "denied": "被拒", "error": "失败"}

FIELDS = {
    "number": "编号", "dossier": "档案", "title": "题名", "name": "名称", "code": "代码",
    "seq": "顺序号", "group": "分组", "files": "文件", "file": "文件", "sha256": "SHA-256",
    "level": "密级", "stamped": "加水印", "username": "用户名", "role": "角色",
    "clearance": "密级", "department_id": "部门", "changes": "修改", "reason": "原因",
    "sessions_ended": "结束的会话", "tokens_revoked": "撤销的令牌", "prefix": "令牌前缀",
    "session_id": "会话", "ip": "地址", "permission": "所需权限", "method": "请求方法",
    "path": "请求地址", "status": "状态码", "message": "原因", "filters": "查询条件",
    "q": "检索词", "hits": "命中数", "to": "至", "kind": "类型", "note": "说明",
    "document": "文件", "purpose": "用途", "error": "错误", "ok": "结果", "checked": "已校验事件",
    "problem": "问题", "stamp_error": "水印错误", "from": "从", "days": "天数",
    "full": "完整校验", "checkpoints": "签名检查点",
}


def action_label(code: str) -> str:
    return ACTIONS.get(code, code)


def object_type_label(code: str) -> str:
    return OBJECT_TYPES.get(code, code)


def outcome_label(code: str) -> str:
    return OUTCOMES.get(code, code)


def _value(value) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list) and len(value) == 2 and not any(isinstance(v, dict | list)
                                                                for v in value):
        return f"{_value(value[0])} → {_value(value[1])}"
    if isinstance(value, dict):
        return "；".join(f"{FIELDS.get(k, k)}：{_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(_value(v) for v in value)
    if value is None or value == "":
        return "—"
    return str(value)


def detail_fields(details: str) -> list[tuple[str, str]]:
    """An event's details as (label, text) pairs, in the order recorded."""
    try:
        data = json.loads(details or "{}")
    except ValueError:
        return [("详情", details)]
    if not isinstance(data, dict):
        return [("详情", _value(data))]
    return [(FIELDS.get(key, key), _value(value)) for key, value in data.items()]


@dataclass
class Row:
    """One event as the audit page shows it."""

    event: object
    action: str
    object_type: str
    object_name: str
    outcome: str
    fields: list[tuple[str, str]]


def _names(session, viewer, events, withheld: set[int]) -> dict[tuple[str, str], str]:
    """What each event's object is called, for the objects the viewer may see."""
    from archive.models import Customer, Document, Dossier, Loan, User

    models = {"document": (Document, "document.view"), "dossier": (Dossier, "dossier.view"),
              "customer": (Customer, "customer.view"), "loan": (Loan, "loan.view"),
              "user": (User, None)}
    wanted: dict[str, set[int]] = {}
    for e in events:
        if e.object_type in models and e.object_id.isdecimal() and e.id not in withheld:
            wanted.setdefault(e.object_type, set()).add(int(e.object_id))
    names = {}
    for kind, ids in wanted.items():
        model, action = models[kind]
        for row in session.execute(select(model).where(model.id.in_(ids))).scalars():
            if action and not access.can(viewer, action, row):
                continue
            if kind == "document":
                number = f"{row.dossier.number} {row.group.code}-{row.seq}" if access.can(
                    viewer, "numbering.view") else row.dossier.number
                name = f"{number}《{row.title}》"
            elif kind == "dossier":
                name = row.number
            elif kind == "customer":
                name = f"{row.name}（{row.code}）"
            elif kind == "loan":
                name = row.number
            else:
                name = f"{row.display_name}（{row.username}）"
            names[kind, str(row.id)] = name
    return names


def rows(session, viewer, events, withheld: set[int]) -> list[Row]:
    """The events as rows of the audit page: Chinese names, the object named where the
    viewer may see it, the details as fields unless withheld."""
    names = _names(session, viewer, events, withheld)
    full = personal_data.in_full(viewer)
    return [Row(event=e, action=action_label(e.action),
                object_type=object_type_label(e.object_type),
                object_name=names.get((e.object_type, e.object_id), ""),
                outcome=outcome_label(e.outcome),
                fields=[] if e.id in withheld else detail_fields(
                    e.details if full else personal_data.mask_text(e.details)))
            for e in events]


def people(session) -> list:
    """Everyone who may appear as an actor, for the person filter."""
    from archive.models import User

    return list(session.execute(select(User).order_by(User.display_name)).scalars())
