"""Registry: read for all staff, write for administrators. Enterprises see their own record."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from checkonce.api.deps import STAFF, ActorDep, Allow, PageDep, RowId, SessionDep
from checkonce.api.reads import ReadLogDep
from checkonce.api.schemas import Page
from checkonce.auth import access
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError, NotFound
from checkonce.registry import edits, imports
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import (
    CheckItem,
    Department,
    Enterprise,
    Inspector,
    Scene,
    SceneItem,
)
from checkonce.tabular import read_upload

router = APIRouter(tags=["登记库"])
StaffDep = Annotated[Principal, Depends(Allow(*STAFF))]
AdminDep = Annotated[Principal, Depends(Allow("admin"))]


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    short_name: str


class ChecklistOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    key: str
    text: str


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    department: str
    legal_basis: str
    category: str
    default_minutes: int
    default_team: int
    checklist: list[ChecklistOut]


class SceneOut(BaseModel):
    code: str
    name: str
    lead: str
    industries: list[str]
    items: list[str]


class EnterpriseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    credit_code: str
    name: str
    address: str
    district_adcode: str
    lat: float
    lon: float
    industry_code: str
    risk_class: str
    whitelisted: bool
    opens_at: dt.time
    closes_at: dt.time


class EnterpriseIn(BaseModel):
    credit_code: str = Field(min_length=18, max_length=18)
    name: str = Field(min_length=1, max_length=120)
    address: str = Field(min_length=1, max_length=200)
    district_adcode: str = Field(min_length=6, max_length=6)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    industry_code: str
    risk_class: str = Field(pattern="^[ABCD]$")
    whitelisted: bool = False
    opens_at: dt.time = dt.time(9, 0)
    closes_at: dt.time = dt.time(17, 30)


class EnterprisePatch(BaseModel):
    risk_class: str | None = Field(None, pattern="^[ABCD]$")
    whitelisted: bool | None = None
    active: bool | None = None
    industry_code: str | None = Field(None, min_length=1, max_length=32)
    district_adcode: str | None = Field(None, min_length=6, max_length=6)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    name: str | None = Field(None, min_length=1, max_length=120)
    address: str | None = Field(None, min_length=1, max_length=200)


class InspectorPatch(BaseModel):
    status: Literal["active", "suspended", "left"] | None = None
    certificate_no: str | None = Field(None, min_length=1, max_length=32)
    certificate_valid_from: dt.date | None = None
    certificate_valid_to: dt.date | None = None


class ConflictIn(BaseModel):
    inspector: str = Field(min_length=1, max_length=16, description="执法人员工号")
    credit_code: str = Field(min_length=18, max_length=18)
    reason: str = Field(min_length=1, max_length=200)
    declared_on: dt.date


class ConflictOut(BaseModel):
    id: int
    inspector: str
    credit_code: str
    reason: str
    declared_on: dt.date


class WithdrawIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class InspectorOut(BaseModel):
    code: str
    name: str
    department: str
    role: str
    status: str
    certificate_no: str | None
    certificate_valid_to: dt.date | None


class ImportResult(BaseModel):
    added: int


@router.get("/departments", response_model=list[DepartmentOut])
def list_departments(db: SessionDep, _: StaffDep) -> list[Department]:
    """执法部门。"""
    return list(db.scalars(select(Department).order_by(Department.code)))


@router.get("/items", response_model=Page[ItemOut])
def list_items(
    db: SessionDep, _: StaffDep, page: PageDep, department: str | None = None
) -> Page[ItemOut]:
    """检查事项清单（可按部门筛选），含检查表条目。"""
    stmt = select(CheckItem).join(Department)
    if department:
        stmt = stmt.where(Department.code == department)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.options(selectinload(CheckItem.checklist), selectinload(CheckItem.department))
        .order_by(CheckItem.code)
        .limit(page.limit)
        .offset(page.offset)
    )
    items = [
        ItemOut(
            code=i.code,
            name=i.name,
            department=i.department.code,
            legal_basis=i.legal_basis,
            category=i.category,
            default_minutes=i.default_minutes,
            default_team=i.default_team,
            checklist=[ChecklistOut.model_validate(c) for c in i.checklist],
        )
        for i in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/scenes", response_model=list[SceneOut])
def list_scenes(db: SessionDep, _: StaffDep) -> list[SceneOut]:
    """综合查一次场景。"""
    scenes = db.scalars(
        select(Scene)
        .options(
            selectinload(Scene.items).selectinload(SceneItem.item),
            selectinload(Scene.industries),
            selectinload(Scene.lead_department),
        )
        .order_by(Scene.code)
    )
    return [
        SceneOut(
            code=s.code,
            name=s.name,
            lead=s.lead_department.code,
            industries=[i.industry_code for i in s.industries],
            items=[i.item.code for i in s.items],
        )
        for s in scenes
    ]


@router.get("/enterprises", response_model=Page[EnterpriseOut])
def list_enterprises(
    db: SessionDep,
    principal: StaffDep,
    page: PageDep,
    reads: ReadLogDep,
    district: Annotated[str | None, Query(description="区县代码")] = None,
    industry: str | None = None,
    risk_class: Annotated[str | None, Query(pattern="^[ABCD]$")] = None,
    q: Annotated[str | None, Query(max_length=60, description="名称或信用代码包含")] = None,
) -> Page[EnterpriseOut]:
    """企业登记库（分页、可筛选）。"""
    stmt = select(Enterprise)
    if district:
        stmt = stmt.where(Enterprise.district_adcode == district)
    if industry:
        stmt = stmt.where(Enterprise.industry_code == industry)
    if risk_class:
        stmt = stmt.where(Enterprise.risk_class == risk_class)
    if q:
        stmt = stmt.where(Enterprise.name.contains(q) | Enterprise.credit_code.contains(q.upper()))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(Enterprise.id).limit(page.limit).offset(page.offset)).all()
    reads.shown(principal, "enterprise", enterprise_ids=[r.id for r in rows], total=total)
    return Page(
        items=[EnterpriseOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/enterprises/{credit_code}", response_model=EnterpriseOut)
def get_enterprise(
    credit_code: str,
    db: SessionDep,
    principal: Annotated[Principal, Depends(Allow(*STAFF, "enterprise"))],
    reads: ReadLogDep,
) -> Enterprise:
    """一个企业；企业账号只能看到自己（其他企业一律 404）。"""
    firm = db.scalars(select(Enterprise).where(Enterprise.credit_code == credit_code)).first()
    if firm is None or not access.enterprise_visible_to(firm.id, principal):
        raise NotFound(f"企业 {credit_code} 不存在")
    reads.shown(principal, "enterprise", enterprise_id=firm.id, object_id=firm.credit_code)
    return firm


@router.post("/enterprises", response_model=EnterpriseOut, status_code=201)
def create_enterprise(
    body: EnterpriseIn, db: SessionDep, request: Request, _: AdminDep, actor: ActorDep
) -> Enterprise:
    """登记一个企业（与批量导入同样的校验）。"""
    return edits.create_enterprise(
        db_session=db,
        actor=actor,
        data=body.model_dump(),
        juris=Jurisdiction(request.app.state.settings.jurisdiction_dir),
    )


@router.patch("/enterprises/{credit_code}", response_model=EnterpriseOut)
def update_enterprise(
    credit_code: str,
    body: EnterprisePatch,
    db: SessionDep,
    request: Request,
    _: AdminDep,
    actor: ActorDep,
) -> Enterprise:
    """修改企业的风险等级、白名单、状态、行业、区县、名称或地址（留痕：修改前后）。"""
    return edits.update_enterprise(
        db_session=db,
        actor=actor,
        credit_code=credit_code,
        changes=body.model_dump(exclude_unset=True),
        juris=Jurisdiction(request.app.state.settings.jurisdiction_dir),
    )


@router.get("/inspectors", response_model=Page[InspectorOut])
def list_inspectors(
    db: SessionDep, _: StaffDep, page: PageDep, department: str | None = None
) -> Page[InspectorOut]:
    """执法人员（可按部门筛选）。"""
    stmt = select(Inspector).join(Department)
    if department:
        stmt = stmt.where(Department.code == department)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.options(selectinload(Inspector.department))
        .order_by(Inspector.code)
        .limit(page.limit)
        .offset(page.offset)
    )
    items = [
        InspectorOut(
            code=r.code,
            name=r.name,
            department=r.department.code,
            role=r.role,
            status=r.status,
            certificate_no=r.certificate_no,
            certificate_valid_to=r.certificate_valid_to,
        )
        for r in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def _inspector_out(r: Inspector) -> InspectorOut:
    return InspectorOut(
        code=r.code,
        name=r.name,
        department=r.department.code,
        role=r.role,
        status=r.status,
        certificate_no=r.certificate_no,
        certificate_valid_to=r.certificate_valid_to,
    )


@router.patch("/inspectors/{code}", response_model=InspectorOut)
def update_inspector(
    code: Annotated[str, PathParam(max_length=16)],
    body: InspectorPatch,
    db: SessionDep,
    _: AdminDep,
    actor: ActorDep,
) -> InspectorOut:
    """修改执法人员的在岗状态或执法证（证号、有效期），留痕。"""
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for v in changes.values()):
        raise CheckOnceError("字段不能为空")
    return _inspector_out(
        edits.update_inspector(db_session=db, actor=actor, code=code, changes=changes)
    )


@router.post("/conflicts", response_model=ConflictOut, status_code=201)
def declare_conflict(body: ConflictIn, db: SessionDep, _: AdminDep, actor: ActorDep) -> ConflictOut:
    """登记执法人员与企业的回避关系（排程时硬性排除）。"""
    row = edits.declare_conflict(
        db_session=db,
        actor=actor,
        inspector_code=body.inspector,
        credit_code=body.credit_code,
        reason=body.reason,
        declared_on=body.declared_on,
    )
    return ConflictOut(
        id=row.id,
        inspector=body.inspector,
        credit_code=body.credit_code,
        reason=row.reason,
        declared_on=row.declared_on,
    )


@router.post("/conflicts/{conflict_id}/withdraw", status_code=204)
def withdraw_conflict(
    conflict_id: RowId, body: WithdrawIn, db: SessionDep, _: AdminDep, actor: ActorDep
) -> None:
    """撤销一条回避关系（须说明原因）。"""
    edits.withdraw_conflict(db_session=db, actor=actor, conflict_id=conflict_id, reason=body.reason)


def _upload(file: UploadFile, request: Request, db, importer, actor) -> ImportResult:
    suffix = Path(file.filename or "upload.csv").suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise CheckOnceError(f"不支持的文件类型 {suffix or '（无扩展名）'}，请上传 .csv 或 .xlsx")
    data = read_upload(file.file, request.app.state.settings.upload_max_bytes, file.filename or "")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(file.filename or "upload").name or "upload" + suffix)
        path.write_bytes(data)
        added = importer(
            db_session=db,
            path=path,
            data_dir=request.app.state.settings.jurisdiction_dir,
            actor=actor,
        )
    return ImportResult(added=added)


@router.post("/imports/enterprises", response_model=ImportResult)
def upload_enterprises(
    file: UploadFile, request: Request, db: SessionDep, _: AdminDep, actor: ActorDep
) -> ImportResult:
    """上传企业表（CSV 或 Excel，全部正确才写入，错误逐行列出）。"""
    return _upload(file, request, db, imports.import_enterprises, actor)


@router.post("/imports/inspectors", response_model=ImportResult)
def upload_inspectors(
    file: UploadFile, request: Request, db: SessionDep, _: AdminDep, actor: ActorDep
) -> ImportResult:
    """上传执法人员表（CSV 或 Excel）。"""
    return _upload(file, request, db, imports.import_inspectors, actor)
