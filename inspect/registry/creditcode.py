"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters: registration authority (1), entity category (1), administrative division
(6 digits), organisation code (9, GB 11714), check character (1). Characters come from a
31-symbol alphabet without I, O, S, V, Z; the check character makes the weighted sum
divisible by 31.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
# GB 11714 organisation code: 8 body characters (digits and A–Z), check digit 0–9 or X.
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_check_digit(body8: str) -> str:
    """The GB 11714 check digit of an 8-character organisation code body."""
    total = sum(int(ch, 36) * w for ch, w in zip(body8, _ORG_WEIGHTS, strict=True))
    value = (11 - total % 11) % 11
    return "X" if value == 10 else str(value)


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid credit code (Chinese, for users), or None when it is valid."""
    if not isinstance(code, str) or not code.strip():
        return "统一社会信用代码为空"
    code = code.strip()
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，实际 {len(code)} 位"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"统一社会信用代码含非法字符 {''.join(bad)}（不使用 I、O、S、V、Z 及小写字母）"
    if not code[2:8].isdigit():
        return "统一社会信用代码第 3–8 位应为行政区划代码（6 位数字）"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误：应为 {expected}，实际 {code[17]}"
    return None


def is_valid_credit_code(code: str) -> bool:
    return credit_code_problem(code) is None


def make_credit_code(authority_category: str, division: str, org_body8: str) -> str:
    """Build a valid code from its parts (used by the demo generator)."""
    if len(authority_category) != 2 or len(division) != 6 or len(org_body8) != 8:
        raise ValueError("credit code parts must be 2 + 6 + 8 characters")
    first17 = authority_category + division + org_body8 + org_check_digit(org_body8)
    return first17 + check_character(first17)
