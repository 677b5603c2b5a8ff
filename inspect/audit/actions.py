"""Every kind of audited action, named "domain.verb", each with its Chinese label.

Add a member here when a new action is audited; `record` accepts only these."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    # accounts and keys
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    USER_CREATE = "auth.user_create"
    USER_UPDATE = "auth.user_update"
    PASSWORD_CHANGE = "auth.password_change"
    SIGNING_KEY_CREATE = "auth.key_create"
    SIGNING_KEY_REVOKE = "auth.key_revoke"
    # registry
    ENTERPRISE_CREATE = "registry.enterprise_create"
    ENTERPRISE_UPDATE = "registry.enterprise_update"
    ENTERPRISE_IMPORT = "registry.enterprise_import"
    INSPECTOR_CREATE = "registry.inspector_create"
    INSPECTOR_UPDATE = "registry.inspector_update"
    INSPECTOR_IMPORT = "registry.inspector_import"
    CERTIFICATE_UPDATE = "registry.certificate_update"
    CONFLICT_CREATE = "registry.conflict_create"
    CONFLICT_DELETE = "registry.conflict_delete"
    REFERENCE_LOAD = "registry.reference_load"
    # plans
    PLAN_CREATE = "plan.create"
    PLAN_IMPORT = "plan.import"
    PLAN_VALIDATE = "plan.validate"
    PLAN_SUBMIT = "plan.submit"
    PLAN_APPROVE = "plan.approve"
    PLAN_RETURN = "plan.return"
    PLAN_PUBLISH = "plan.publish"
    # draws
    DRAW_COMMIT = "draw.commit"
    DRAW_BEACON = "draw.beacon"
    DRAW_RUN = "draw.run"
    DRAW_REVEAL = "draw.reveal"
    DRAW_PUBLISH = "draw.publish"
    DRAW_ABANDON = "draw.abandon"
    REDRAW_REQUEST = "draw.redraw_request"
    REDRAW_APPROVE = "draw.redraw_approve"
    REDRAW_REJECT = "draw.redraw_reject"
    # schedules
    SCHEDULE_GENERATE = "schedule.generate"
    SCHEDULE_PUBLISH = "schedule.publish"
    # visits
    CHECKIN = "visit.checkin"
    CHECKIN_BACKFILL = "visit.backfill"
    CHECKIN_CONFIRM = "visit.checkin_confirm"
    INSPECTION_CODE_VERIFY = "visit.code_verify"
    # findings
    RESULT_RECORD = "finding.result_record"
    RESULT_PUBLISH = "finding.result_publish"
    FEE_FINDING = "finding.fee_finding"
    FEE_REVIEW = "finding.fee_review"
    REFUND_UPDATE = "finding.refund_update"
    PHOTO_UPLOAD = "finding.photo_upload"
    # the visit's paperwork (checkonce.documents)
    DOCUMENT_GENERATE = "document.generate"
    DOCUMENT_SIGN = "document.sign"
    DOCUMENT_SIGN_REFUSE = "document.sign_refuse"
    DOCUMENT_SEND = "document.send"
    RESCHEDULE_REQUEST = "enterprise.reschedule_request"
    RESCHEDULE_REJECT = "schedule.reschedule_reject"
    RESCHEDULE_REPLAN = "schedule.reschedule_replan"
    # the enterprise's voice
    REPORT_CREATE = "enterprise.report_create"
    REPORT_UPDATE = "enterprise.report_update"
    RATING_CREATE = "enterprise.rating_create"
    RATING_UPDATE = "enterprise.rating_update"
    # jobs and the trail itself
    JOB_RUN = "job.run"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    AUDIT_EXPORT = "audit.export"
    # staff reads of non-public enterprise data (one record per request)
    READ = "data.read"

    @property
    def label(self) -> str:
        return ACTION_LABELS.get(self, self.value)


ACTION_LABELS: dict[AuditAction, str] = {
    AuditAction.LOGIN: "登录",
    AuditAction.LOGIN_FAILED: "登录失败",
    AuditAction.LOGOUT: "退出登录",
    AuditAction.USER_CREATE: "创建账号",
    AuditAction.USER_UPDATE: "修改账号",
    AuditAction.PASSWORD_CHANGE: "修改密码",
    AuditAction.SIGNING_KEY_CREATE: "新建签名密钥",
    AuditAction.SIGNING_KEY_REVOKE: "吊销签名密钥",
    AuditAction.ENTERPRISE_CREATE: "新增企业",
    AuditAction.ENTERPRISE_UPDATE: "修改企业信息",
    AuditAction.ENTERPRISE_IMPORT: "导入企业名录",
    AuditAction.INSPECTOR_CREATE: "新增执法人员",
    AuditAction.INSPECTOR_UPDATE: "修改执法人员信息",
    AuditAction.INSPECTOR_IMPORT: "导入执法人员名录",
    AuditAction.CERTIFICATE_UPDATE: "修改执法证",
    AuditAction.CONFLICT_CREATE: "登记回避关系",
    AuditAction.CONFLICT_DELETE: "撤销回避关系",
    AuditAction.REFERENCE_LOAD: "载入基础数据",
    AuditAction.PLAN_CREATE: "创建计划",
    AuditAction.PLAN_IMPORT: "导入计划",
    AuditAction.PLAN_VALIDATE: "校验计划",
    AuditAction.PLAN_SUBMIT: "提交计划",
    AuditAction.PLAN_APPROVE: "审核通过计划",
    AuditAction.PLAN_RETURN: "退回计划",
    AuditAction.PLAN_PUBLISH: "公开计划",
    AuditAction.DRAW_COMMIT: "发起抽取（公布承诺）",
    AuditAction.DRAW_BEACON: "录入公开随机源",
    AuditAction.DRAW_RUN: "执行抽取",
    AuditAction.DRAW_REVEAL: "公开种子",
    AuditAction.DRAW_PUBLISH: "公示抽取结果",
    AuditAction.DRAW_ABANDON: "作废抽取",
    AuditAction.REDRAW_REQUEST: "申请重新抽取",
    AuditAction.REDRAW_APPROVE: "批准重新抽取",
    AuditAction.REDRAW_REJECT: "驳回重新抽取",
    AuditAction.SCHEDULE_GENERATE: "生成排程",
    AuditAction.SCHEDULE_PUBLISH: "发布排程",
    AuditAction.CHECKIN: "扫码入企签到",
    AuditAction.CHECKIN_BACKFILL: "补录签到",
    AuditAction.CHECKIN_CONFIRM: "企业确认入企",
    AuditAction.INSPECTION_CODE_VERIFY: "核验检查码",
    AuditAction.RESULT_RECORD: "录入检查结果",
    AuditAction.RESULT_PUBLISH: "公开检查结果",
    AuditAction.FEE_FINDING: "录入收费核查",
    AuditAction.FEE_REVIEW: "复核收费核查",
    AuditAction.REFUND_UPDATE: "更新退费状态",
    AuditAction.PHOTO_UPLOAD: "上传现场照片",
    AuditAction.DOCUMENT_GENERATE: "生成检查文书",
    AuditAction.DOCUMENT_SIGN: "签署现场检查笔录",
    AuditAction.DOCUMENT_SIGN_REFUSE: "记录拒绝签字",
    AuditAction.DOCUMENT_SEND: "发送检查通知书",
    AuditAction.RESCHEDULE_REQUEST: "企业申请改期",
    AuditAction.RESCHEDULE_REJECT: "驳回改期申请",
    AuditAction.RESCHEDULE_REPLAN: "按企业改期申请重排",
    AuditAction.REPORT_CREATE: "企业反映问题",
    AuditAction.REPORT_UPDATE: "处理企业反映",
    AuditAction.RATING_CREATE: "企业评价检查",
    AuditAction.RATING_UPDATE: "企业修改评价",
    AuditAction.JOB_RUN: "定时任务运行",
    AuditAction.AUDIT_CHECKPOINT: "公布审计链检查点",
    AuditAction.AUDIT_EXPORT: "导出审计记录",
    AuditAction.READ: "查阅企业非公开信息",
}
