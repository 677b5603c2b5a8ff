"""The fee compliance engine (涉企收费合规判定): a pure library, dataclasses in, a verdict out.

A charge (unit, item as charged, amount, date) is matched against the fee catalog
(涉企收费目录清单) and judged by one rule function per verdict, applied in this order:

1. `check_off_catalog`        — no catalog item resembles the charged name (清单之外收费);
2. `check_needs_review`       — the closest catalog name is only a fuzzy or ambiguous match:
                                a person decides (a fuzzy match must never turn an
                                off-catalog fee into a compliant one silently);
3. `check_unauthorized_unit`  — the item is in the catalog, but for another charging unit,
                                or the unit is not a registered charging unit;
4. `check_not_yet_in_force`  — the charge date is before the entry took effect: the
                                catalog has no entry in force that day (an earlier rule may
                                have applied), so a person decides;
5. `check_abolished_or_expired` — the entry was abolished or had expired on the charge date;
6. `check_duplicate`          — the same unit already charged the same item to the same
                                enterprise for the same billing period (for a fee charged
                                per occasion or per unit, the same amount twice on one day
                                may be two units: a person decides);
7. `check_over_standard`      — the amount exceeds the fixed standard or the cap;
8. `compliant`                — none of the above.

Every verdict carries the refund due: the amount above the standard for over-standard
charges, the whole amount for off-catalog, abolished/expired, unauthorized and duplicate
charges, nothing otherwise; and an explanation in Chinese naming the rule, the catalog entry
and how the name matched (score, the catalog name or alias it matched).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rapidfuzz import fuzz

# A name match at or above HIGH_CONFIDENCE is taken as the catalog item; between REVIEW_FLOOR
# and it, a coordinator decides; below REVIEW_FLOOR nothing in the catalog resembles the name.
# Chinese fee names are short: one changed character in a seven-character name (检验 → 检测)
# scores about 86 and may be a different fee, so only exact names (after normalisation) and
# exact names without a bracketed qualifier pass unreviewed.
HIGH_CONFIDENCE = 95.0
REVIEW_FLOOR = 75.0
# Score given to a name equal to a catalog name once its bracketed qualifier is dropped
# ("不动产登记费" for "不动产登记费（非住宅）"): accepted only when exactly one entry fits.
QUALIFIER_DROPPED_SCORE = 95.0
CENT = Decimal("0.01")

_BRACKETED = re.compile(r"[（(][^）)]*[）)]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog entry as the engine needs it."""

    id: int
    code: str
    charging_unit: str
    item: str
    aliases: tuple[str, ...]
    standard_type: str  # "fixed" or "cap"
    amount: Decimal
    unit: str
    legal_basis: str
    valid_from: dt.date
    valid_to: dt.date | None
    status: str  # "active" or "abolished"

    def valid_on(self, day: dt.date) -> bool:
        if day < self.valid_from:
            return False
        if self.valid_to is not None and day > self.valid_to:
            return False
        return not (self.status == "abolished" and self.valid_to is None)


@dataclass(frozen=True)
class Charge:
    """A charge to judge. `unit_code` is the registered charging unit the named unit
    resolved to, None when it is not a registered charging unit."""

    unit_text: str
    unit_code: str | None
    item: str
    amount: Decimal
    charged_on: dt.date
    quantity: Decimal = Decimal("1")


@dataclass(frozen=True)
class PriorCharge:
    """A charge already on record for the same enterprise that was judged against an entry
    (compliant or over-standard): the duplicate rule compares against these."""

    id: int
    unit_code: str
    entry_id: int
    charged_on: dt.date
    amount: Decimal


@dataclass(frozen=True)
class NameMatch:
    """The catalog entry whose item name or alias is closest to the charged name."""

    entry: CatalogEntry
    name: str  # the catalog name or alias that matched
    how: str  # "item", "alias", "item_without_qualifier", "alias_without_qualifier", "reviewer"
    score: float
    ambiguous_with: tuple[str, ...] = ()  # codes of other entries matching as well

    def describe(self, charged: str) -> str:
        if self.how == "reviewer":
            return f"复核人员认定收费项目「{charged}」即目录项目「{self.entry.item}」（{self.entry.code}）"
        kind = {
            "item": "项目名称",
            "alias": "别名",
            "item_without_qualifier": "项目名称（去掉括号限定语）",
            "alias_without_qualifier": "别名（去掉括号限定语）",
        }[self.how]
        return (
            f"收费项目「{charged}」与目录项目「{self.entry.item}」（{self.entry.code}）的{kind}"
            f"「{self.name}」相似度 {self.score:.1f}"
        )


@dataclass(frozen=True)
class Verdict:
    """The engine's answer for one charge."""

    verdict: str
    rule: str
    refund_due: Decimal
    explanation: str
    match: NameMatch | None = None
    standard: Decimal | None = None
    duplicate_of: int | None = None

    @property
    def entry(self) -> CatalogEntry | None:
        return self.match.entry if self.match is not None else None


def normalize_name(name: str) -> str:
    """Fold full-width forms (NFKC), drop spaces, lowercase: "特种设备 检验费（电梯）" and
    "特种设备检验费(电梯)" compare equal."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", name)).lower()


def _without_qualifier(name: str) -> str:
    return _BRACKETED.sub("", name)


def _candidates(entry: CatalogEntry) -> Iterable[tuple[str, str]]:
    yield entry.item, "item"
    for alias in entry.aliases:
        yield alias, "alias"


def match_item(
    item: str, catalog: Sequence[CatalogEntry], *, unit_code: str | None = None
) -> NameMatch | None:
    """The best catalog match for a charged item name, or None for an empty catalog.

    Scores are rapidfuzz `fuzz.ratio` (0–100) of the normalised names; a name equal to a
    catalog name without its bracketed qualifier scores QUALIFIER_DROPPED_SCORE. Among equal
    scores an entry of the charging unit wins; other entries with the winning score and no
    better claim are reported as `ambiguous_with`."""
    charged = normalize_name(item)
    best: dict[int, tuple[float, bool, str, str]] = {}
    for entry in catalog:
        for name, how in _candidates(entry):
            norm = normalize_name(name)
            score = float(fuzz.ratio(charged, norm))
            kind = how
            if score < 100.0 and _without_qualifier(norm) == charged and charged:
                score, kind = QUALIFIER_DROPPED_SCORE, f"{how}_without_qualifier"
            current = best.get(entry.id)
            if current is None or score > current[0]:
                best[entry.id] = (score, entry.charging_unit == unit_code, name, kind)
    if not best:
        return None
    by_id = {e.id: e for e in catalog}
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], not kv[1][1], by_id[kv[0]].code))
    top_id, (score, same_unit, name, how) = ranked[0]
    ambiguous = tuple(
        by_id[other].code for other, (s, u, _, _) in ranked[1:] if s == score and u == same_unit
    )
    return NameMatch(entry=by_id[top_id], name=name, how=how, score=score, ambiguous_with=ambiguous)


def standard_for(entry: CatalogEntry, quantity: Decimal) -> Decimal:
    """The most the entry allows for `quantity`: amount × quantity, or for a percentage
    standard (unit "%…") amount % of the base given as quantity."""
    if entry.unit.startswith("%"):
        total = entry.amount * quantity / Decimal(100)
    else:
        total = entry.amount * quantity
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def billing_period(entry: CatalogEntry, day: dt.date) -> str:
    """The period a charge of this entry covers, read from the entry's unit: per year
    (…年), per month (…月), once per enterprise (元/户), else per occasion (the day)."""
    if "年" in entry.unit:
        return f"{day.year}"
    if "月" in entry.unit:
        return f"{day.year}-{day.month:02d}"
    if "户" in entry.unit:
        return "once"
    return day.isoformat()


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,.2f} 元"


# ------------------------------------------------------------------------------- the rules


def check_off_catalog(
    charge: Charge, match: NameMatch | None, *, floor: float = REVIEW_FLOOR
) -> Verdict | None:
    """清单之外收费: no catalog name comes near the charged name; the whole amount is due back."""
    if match is not None and (match.how == "reviewer" or match.score >= floor):
        return None
    closest = (
        f"最接近的目录项目「{match.entry.item}」（{match.entry.code}）相似度仅 {match.score:.1f}，"
        f"低于 {floor:.0f}"
        if match is not None
        else "收费目录为空"
    )
    return Verdict(
        verdict="off_catalog",
        rule="check_off_catalog",
        refund_due=charge.amount,
        match=None,
        explanation=(
            f"收费项目「{charge.item}」不在涉企收费目录清单内（{closest}），属清单之外收费，"
            f"应全额退还 {_money(charge.amount)}"
        ),
    )


def check_needs_review(
    charge: Charge, match: NameMatch, *, threshold: float = HIGH_CONFIDENCE
) -> Verdict | None:
    """待人工复核: the closest catalog name is below the high-confidence threshold, or several
    entries fit equally well. Nothing is refunded and nothing is cleared until a coordinator
    decides which entry (if any) the charge is."""
    if match.how == "reviewer":
        return None
    if match.score >= threshold and not match.ambiguous_with:
        return None
    reason = (
        f"另有目录项目 {'、'.join(match.ambiguous_with)} 同样匹配"
        if match.ambiguous_with
        else f"低于自动认定阈值 {threshold:.0f}"
    )
    return Verdict(
        verdict="needs_review",
        rule="check_needs_review",
        refund_due=Decimal("0"),
        match=match,
        explanation=f"{match.describe(charge.item)}，{reason}：名称匹配不确定，需人工复核后判定",
    )


def check_unauthorized_unit(charge: Charge, match: NameMatch) -> Verdict | None:
    """无权收费单位收费: the catalog lets another unit charge this item, or the unit that
    charged is not a registered charging unit; the whole amount is due back."""
    entry = match.entry
    if charge.unit_code == entry.charging_unit:
        return None
    who = (
        f"收费单位「{charge.unit_text}」不在收费单位名录中"
        if charge.unit_code is None
        else f"收费单位「{charge.unit_text}」（{charge.unit_code}）无权收取该项目"
    )
    return Verdict(
        verdict="unauthorized_unit",
        rule="check_unauthorized_unit",
        refund_due=charge.amount,
        match=match,
        explanation=(
            f"{match.describe(charge.item)}；目录规定的收费单位为 {entry.charging_unit}，{who}，"
            f"应全额退还 {_money(charge.amount)}"
        ),
    )


def check_not_yet_in_force(charge: Charge, match: NameMatch) -> Verdict | None:
    """待人工复核: the charge is dated before the entry took effect. The catalog holds no
    entry in force on that day, which does not make the fee abolished (an earlier version
    of the catalog may have allowed it): nothing is refunded until a coordinator decides."""
    entry = match.entry
    if charge.charged_on >= entry.valid_from or match.how == "reviewer":
        return None  # a coordinator who named the entry has decided it applied
    return Verdict(
        verdict="needs_review",
        rule="check_not_yet_in_force",
        refund_due=Decimal("0"),
        match=match,
        explanation=(
            f"{match.describe(charge.item)}；收费日期 {charge.charged_on} 早于该目录项目的执行日期 "
            f"{entry.valid_from}，目录中没有当日有效的条目，需人工复核当时适用的收费依据"
        ),
    )


def check_abolished_or_expired(charge: Charge, match: NameMatch) -> Verdict | None:
    """收取已取消或已过期项目: the entry was abolished or had expired on the charge date;
    the whole amount is due back. (A date before the entry took effect is
    `check_not_yet_in_force`'s case.)"""
    entry = match.entry
    if entry.valid_on(charge.charged_on) or charge.charged_on < entry.valid_from:
        return None
    if entry.valid_to is not None:
        state = "已取消" if entry.status == "abolished" else "已过有效期"
        why = f"该项目{state}（有效期至 {entry.valid_to}）"
    else:
        why = "该项目已取消"
    return Verdict(
        verdict="abolished_or_expired",
        rule="check_abolished_or_expired",
        refund_due=charge.amount,
        match=match,
        explanation=(
            f"{match.describe(charge.item)}；收费日期 {charge.charged_on} {why}，"
            f"应全额退还 {_money(charge.amount)}"
        ),
    )


def check_duplicate(
    charge: Charge, match: NameMatch, prior: Sequence[PriorCharge]
) -> Verdict | None:
    """重复收费: the same unit already charged the same item to the same enterprise for the
    same billing period (`billing_period`); this charge is due back whole."""
    entry = match.entry
    period = billing_period(entry, charge.charged_on)
    for earlier in sorted(prior, key=lambda p: (p.charged_on, p.id)):
        if earlier.unit_code != charge.unit_code or earlier.entry_id != entry.id:
            continue
        if billing_period(entry, earlier.charged_on) != period:
            continue
        if period == charge.charged_on.isoformat():
            if earlier.amount != charge.amount:
                continue  # per-occasion fee: two different charges the same day may both be due
            # The same per-unit fee twice on one day may be two devices, two services: the
            # record alone cannot tell a second unit from a repeated charge, so a person
            # looks first (after that review the rule below judges it a duplicate).
            if match.how != "reviewer":
                return Verdict(
                    verdict="needs_review",
                    rule="check_duplicate",
                    refund_due=Decimal("0"),
                    match=match,
                    duplicate_of=earlier.id,
                    explanation=(
                        f"{match.describe(charge.item)}；同一收费单位已于同日（{charge.charged_on}）"
                        f"就同一按次/按件计费项目以相同金额向该企业收费（记录 {earlier.id}），"
                        "可能是两次服务，也可能是重复收费，需人工复核"
                    ),
                )
        return Verdict(
            verdict="duplicate",
            rule="check_duplicate",
            refund_due=charge.amount,
            match=match,
            duplicate_of=earlier.id,
            explanation=(
                f"{match.describe(charge.item)}；同一收费单位已于 {earlier.charged_on} 就同一项目、"
                f"同一计费期（{period if period != 'once' else '一次性'}）向该企业收费"
                f"（记录 {earlier.id}），属重复收费，应全额退还 {_money(charge.amount)}"
            ),
        )
    return None


def check_over_standard(charge: Charge, match: NameMatch) -> Verdict | None:
    """超标准收费: the amount exceeds the fixed standard or the cap for the quantity; the
    excess is due back."""
    entry = match.entry
    standard = standard_for(entry, charge.quantity)
    if charge.amount <= standard:
        return None
    excess = charge.amount - standard
    kind = "固定标准" if entry.standard_type == "fixed" else "收费上限"
    return Verdict(
        verdict="over_standard",
        rule="check_over_standard",
        refund_due=excess,
        match=match,
        standard=standard,
        explanation=(
            f"{match.describe(charge.item)}；{kind} {entry.amount} {entry.unit} × {charge.quantity}"
            f" = {_money(standard)}，实收 {_money(charge.amount)}，超出部分 {_money(excess)} 应退还"
        ),
    )


def compliant(charge: Charge, match: NameMatch) -> Verdict:
    """合规收费: catalogued, charged by its unit, in force, not repeated, within the standard."""
    standard = standard_for(match.entry, charge.quantity)
    return Verdict(
        verdict="compliant",
        rule="compliant",
        refund_due=Decimal("0"),
        match=match,
        standard=standard,
        explanation=(
            f"{match.describe(charge.item)}；收费单位、有效期与标准（不超过 {_money(standard)}）"
            "均符合目录，合规"
        ),
    )


def assess(
    charge: Charge,
    catalog: Sequence[CatalogEntry],
    prior: Sequence[PriorCharge] = (),
    *,
    reviewed_entry: CatalogEntry | None = None,
    threshold: float = HIGH_CONFIDENCE,
    floor: float = REVIEW_FLOOR,
) -> Verdict:
    """Judge one charge. `reviewed_entry` is a coordinator's decision after review: the
    charge is that entry, and the rules from `check_unauthorized_unit` on apply to it."""
    if not 0 <= floor <= threshold <= 100:
        raise ValueError("need 0 <= floor <= threshold <= 100")
    if charge.amount <= 0:
        raise ValueError("amount must be positive")
    if charge.quantity <= 0:
        raise ValueError("quantity must be positive")
    if reviewed_entry is not None:
        match: NameMatch | None = NameMatch(
            entry=reviewed_entry, name=reviewed_entry.item, how="reviewer", score=100.0
        )
    else:
        match = match_item(charge.item, catalog, unit_code=charge.unit_code)
    verdict = check_off_catalog(charge, match, floor=floor)
    if verdict is not None:
        return verdict
    assert match is not None
    return (
        check_needs_review(charge, match, threshold=threshold)
        or check_unauthorized_unit(charge, match)
        or check_not_yet_in_force(charge, match)
        or check_abolished_or_expired(charge, match)
        or check_duplicate(charge, match, prior)
        or check_over_standard(charge, match)
        or compliant(charge, match)
    )


def off_catalog_by_review(charge: Charge, note: str) -> Verdict:
    """A coordinator's review found the charge is no catalog item: 清单之外收费."""
    return Verdict(
        verdict="off_catalog",
        rule="check_off_catalog",
        refund_due=charge.amount,
        explanation=(
            f"经人工复核，收费项目「{charge.item}」不属于涉企收费目录清单内任何项目"
            f"（{note}），属清单之外收费，应全额退还 {_money(charge.amount)}"
        ),
    )
