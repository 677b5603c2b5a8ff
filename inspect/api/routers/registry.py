"""Registry: read for all staff, write for administrators. Enterprises see their own record."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from checkonce.api.deps import STAFF, Allow, PageDep, SessionDep
from checkonce.api.schemas import Page
from checkonce.auth.service import Principal
from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.registry import imports
from checkonce.registry.creditcode import credit_code_problem
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import (
    CheckItem,
    Department,
    District,
    Enterprise,
    Industry,
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
    name: str | None = Field(None, min_length=1, max_length=120)
    address: str | None = Field(None, min_length=1, max_length=200)


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
    _: StaffDep,
    page: PageDep,
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
    rows = db.scalars(stmt.order_by(Enterprise.id).limit(page.limit).offset(page.offset))
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
) -> Enterprise:
    """一个企业；企业账号只能看到自己（其他企业一律 404）。"""
    firm = db.scalars(select(Enterprise).where(Enterprise.credit_code == credit_code)).first()
    if firm is None or (principal.role == "enterprise" and firm.id != principal.enterprise_id):
        raise NotFound(f"企业 {credit_code} 不存在")
    return firm


@router.post("/enterprises", response_model=EnterpriseOut, status_code=201)
def create_enterprise(
    body: EnterpriseIn, db: SessionDep, request: Request, _: AdminDep
) -> Enterprise:
    """登记一个企业（与批量导入同样的校验）。"""
    problem = credit_code_problem(body.credit_code)
    if problem:
        raise CheckOnceError(problem, code="invalid_credit_code")
    if db.scalar(select(Enterprise.id).where(Enterprise.credit_code == body.credit_code)):
        raise Conflict(f"企业 {body.credit_code} 已在登记库中")
    if db.get(District, body.district_adcode) is None:
        raise CheckOnceError(f"区县代码 {body.district_adcode} 不属于本辖区")
    if db.get(Industry, body.industry_code) is None:
        raise CheckOnceError(f"未知行业 {body.industry_code}")
    if body.opens_at >= body.closes_at:
        raise CheckOnceError("营业结束时间应晚于开始时间")
    juris = Jurisdiction(request.app.state.settings.jurisdiction_dir)
    actual = juris.district_of(body.lat, body.lon)
    if actual != body.district_adcode:
        where = juris.districts[actual].name if actual else "本市范围外"
        raise CheckOnceError(f"坐标 ({body.lat}, {body.lon}) 位于{where}，与区县代码不符")
    firm = Enterprise(**body.model_dump())
    db.add(firm)
    db.flush()
    return firm


@router.patch("/enterprises/{credit_code}", response_model=EnterpriseOut)
def update_enterprise(
    credit_code: str, body: EnterprisePatch, db: SessionDep, _: AdminDep
) -> Enterprise:
    """修改企业的风险等级、白名单、名称或地址。"""
    firm = db.scalars(select(Enterprise).where(Enterprise.credit_code == credit_code)).first()
    if firm is None:
        raise NotFound(f"企业 {credit_code} 不存在")
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is None:
            raise CheckOnceError(f"字段 {name} 不能为空")
        setattr(firm, name, value)
    db.flush()
    return firm


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


def _upload(file: UploadFile, request: Request, db, importer) -> ImportResult:
    suffix = Path(file.filename or "upload.csv").suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise CheckOnceError(f"不支持的文件类型 {suffix or '（无扩展名）'}，请上传 .csv 或 .xlsx")
    data = read_upload(file.file, request.app.state.settings.upload_max_bytes, file.filename or "")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(file.filename or "upload").name or "upload" + suffix)
        path.write_bytes(data)
        added = importer(
            db_session=db, path=path, data_dir=request.app.state.settings.jurisdiction_dir
        )
    return ImportResult(added=added)


@router.post("/imports/enterprises", response_model=ImportResult)
def upload_enterprises(
    file: UploadFile, request: Request, db: SessionDep, _: AdminDep
) -> ImportResult:
    """上传企业表（CSV 或 Excel，全部正确才写入，错误逐行列出）。"""
    return _upload(file, request, db, imports.import_enterprises)


@router.post("/imports/inspectors", response_model=ImportResult)
def upload_inspectors(
    file: UploadFile, request: Request, db: SessionDep, _: AdminDep
) -> ImportResult:
    """上传执法人员表（CSV 或 Excel）。"""
    return _upload(file, request, db, imports.import_inspectors)
