"""Fee-compliance map (涉企收费): fee findings as dots, one layer per verdict; per district the
violation rate (share of decided findings that broke a rule) as a choropleth; and the
refunds those findings made due, by state.

The verdicts and refunds are the fee engine's (checkonce.findings.fees); this module only
counts them. A finding still waiting for a person's review (待人工复核) is neither a
violation nor compliant yet, so it is left out of the rate's denominator.
A bureau sees the findings about its own charges (its department is the charging unit).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import folium
from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.findings.fees.models import (
    FEE_VERDICT_NAMES,
    FEE_VERDICTS,
    REFUND_STATE_NAMES,
    FeeFinding,
    FeeRefund,
)
from checkonce.maps.base import Legend, MapSettings, Points, base_map, district_features
from checkonce.maps.base import tooltip as tooltip_html
from checkonce.maps.scope import Viewer, departments
from checkonce.plans.periods import Period, parse_period
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import Enterprise

NOT_VIOLATIONS = ("compliant", "needs_review")
VERDICT_COLOURS = {
    "compliant": "#2ca02c",
    "off_catalog": "#d62728",
    "over_standard": "#ff7f0e",
    "abolished_or_expired": "#8c564b",
    "unauthorized_unit": "#9467bd",
    "duplicate": "#e377c2",
    "needs_review": "#7f7f7f",
}
REFUND_COLOURS = {"due": "#d62728", "confirmed": "#ff7f0e", "refunded": "#2ca02c"}
# Violation-rate bins (lower bound, colour): ColorBrewer OrRd, grey for no decided finding.
RATE_BINS = (
    (0.0, "#fef0d9"),
    (0.10, "#fdcc8a"),
    (0.25, "#fc8d59"),
    (0.50, "#e34a33"),
    (0.75, "#b30000"),
)
NO_FINDINGS_COLOUR = "#eeeeee"


@dataclass(frozen=True)
class FeePoint:
    """One fee finding at its enterprise's place, with its refund if it made one due."""

    finding_id: int
    verdict: str
    enterprise: str
    district: str
    lat: float
    lon: float
    unit: str
    item: str
    amount: Decimal
    charged_on: dt.date
    refund_state: str | None
    refund_amount: Decimal


@dataclass
class DistrictFees:
    """Findings, violations and refunds (by state) of one district's enterprises."""

    adcode: str
    name: str
    findings: int = 0
    violations: int = 0
    in_review: int = 0
    refunds: dict[str, Decimal] = field(
        default_factory=lambda: {state: Decimal("0.00") for state in REFUND_STATE_NAMES}
    )

    @property
    def decided(self) -> int:
        """Findings with a final verdict (not waiting for review)."""
        return self.findings - self.in_review

    @property
    def violation_rate(self) -> float | None:
        """Violations over decided findings (None when nothing is decided here)."""
        return self.violations / self.decided if self.decided else None


@dataclass
class FeeData:
    """Everything the fee map draws."""

    period: Period | None
    charging_unit: str | None
    points: list[FeePoint]
    districts: list[DistrictFees]

    def count(self, verdict: str) -> int:
        """Findings with `verdict`."""
        return sum(1 for p in self.points if p.verdict == verdict)

    @property
    def refunds(self) -> list[FeePoint]:
        """Findings that made a refund due (any state)."""
        return [p for p in self.points if p.refund_state is not None]


def fee_data(
    *,
    db_session: Session,
    jurisdiction: Jurisdiction,
    period: str | None = None,
    viewer: Viewer | None = None,
) -> FeeData:
    """Fee findings charged in `period` (all if None) with their refunds, for `viewer`."""
    viewer = viewer or Viewer()
    own = viewer.department_scope(None)
    unit = departments(db_session)[own].code if own is not None else None
    span = parse_period(period) if period else None

    query = (
        select(FeeFinding, Enterprise, FeeRefund)
        .join(Enterprise, Enterprise.id == FeeFinding.enterprise_id)
        .outerjoin(FeeRefund, FeeRefund.finding_id == FeeFinding.id)
        .order_by(FeeFinding.charged_on, FeeFinding.id)
    )
    if span:
        query = query.where(FeeFinding.charged_on.between(span.start, span.end))
    if unit is not None:
        query = query.where(FeeFinding.charging_unit == unit)
    points = [
        FeePoint(
            finding.id,
            finding.verdict,
            firm.name,
            firm.district_adcode,
            firm.lat,
            firm.lon,
            finding.unit_text,
            finding.item_charged,
            Decimal(finding.amount),
            finding.charged_on,
            refund.state if refund is not None else None,
            Decimal(refund.amount) if refund is not None else Decimal("0"),
        )
        for finding, firm, refund in db_session.execute(query)
    ]
    districts = {
        adcode: DistrictFees(adcode, shape.name)
        for adcode, shape in sorted(jurisdiction.districts.items())
    }
    for p in points:
        d = districts.get(p.district)
        if d is None:
            continue
        d.findings += 1
        d.violations += p.verdict not in NOT_VIOLATIONS
        d.in_review += p.verdict == "needs_review"
        if p.refund_state is not None:
            d.refunds[p.refund_state] += p.refund_amount
    return FeeData(span, unit, points, list(districts.values()))


def rate_colour(rate: float | None) -> str:
    """The choropleth colour of a violation rate (grey when nothing is decided)."""
    if rate is None:
        return NO_FINDINGS_COLOUR
    colour = RATE_BINS[0][1]
    for lower, candidate in RATE_BINS:
        if rate >= lower:
            colour = candidate
    return colour


def _yuan(value: Decimal) -> str:
    return f"{value:,.2f} 元"


def fee_map(
    data: FeeData, jurisdiction: Jurisdiction, settings: MapSettings | None = None
) -> folium.Map:
    """Violation-rate choropleth, one layer per verdict, and a layer of refunds by state."""
    violations = sum(d.violations for d in data.districts)
    decided = sum(d.decided for d in data.districts)
    when = data.period.code if data.period else "全部"
    rate = f"{violations / decided:.1%}" if decided else "—"
    title = (
        f"{when} 涉企收费检查：{len(data.points)} 笔，违规 {violations} 笔（违规率 {rate}），"
        f"退费 {len(data.refunds)} 笔 {_yuan(sum((p.refund_amount for p in data.refunds), Decimal(0)))}"
    )
    fmap = base_map(jurisdiction, title, settings)
    by_adcode = {d.adcode: d for d in data.districts}
    features = []
    for feature in district_features(jurisdiction):
        d = by_adcode[feature["properties"]["adcode"]]
        features.append(
            {
                **feature,
                "properties": {
                    **feature["properties"],
                    "findings": d.findings,
                    "violations": d.violations,
                    "in_review": d.in_review,
                    "rate_text": "—" if d.violation_rate is None else f"{d.violation_rate:.1%}",
                    **{f"refund_{s}": _yuan(v) for s, v in d.refunds.items()},
                    "colour": rate_colour(d.violation_rate),
                },
            }
        )
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="违规率（按区县）",
        style_function=lambda f: {
            "color": "#444",
            "weight": 1,
            "fillColor": f["properties"]["colour"],
            "fillOpacity": 0.7,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=[
                "name",
                "findings",
                "violations",
                "in_review",
                "rate_text",
                "refund_due",
                "refund_confirmed",
                "refund_refunded",
            ],
            aliases=["区县", "收费笔数", "违规", "待复核", "违规率", "应退", "已确认", "已退还"],
        ),
    ).add_to(fmap)

    for verdict in FEE_VERDICTS:
        rows = [
            [
                p.lat,
                p.lon,
                VERDICT_COLOURS[verdict],
                tooltip_html(
                    p.enterprise,
                    f"{p.charged_on} {p.unit} 收取「{p.item}」{_yuan(p.amount)}",
                    FEE_VERDICT_NAMES[verdict],
                ),
            ]
            for p in data.points
            if p.verdict == verdict
        ]
        Points(rows, name=f"{FEE_VERDICT_NAMES[verdict]}（{len(rows)} 笔）").add_to(fmap)
    refund_rows = [
        [
            p.lat,
            p.lon,
            REFUND_COLOURS[p.refund_state],
            tooltip_html(
                p.enterprise,
                f"{p.unit}「{p.item}」退费 {_yuan(p.refund_amount)}",
                REFUND_STATE_NAMES[p.refund_state],
            ),
        ]
        for p in data.refunds
        if p.refund_state is not None
    ]
    Points(refund_rows, name=f"退费（{len(refund_rows)} 笔）", cluster=False, show=False).add_to(
        fmap
    )

    Legend(
        "违规率",
        [(NO_FINDINGS_COLOUR, "无已判定收费")]
        + [
            (colour, f"≥ {lower:.0%}" if lower else f"< {RATE_BINS[1][0]:.0%}")
            for lower, colour in RATE_BINS
        ],
    ).add_to(fmap)
    Legend(
        "收费判定",
        [(VERDICT_COLOURS[v], FEE_VERDICT_NAMES[v]) for v in FEE_VERDICTS],
        position="bottom-left",
    ).add_to(fmap)
    return fmap
