"""GB 32100 credit codes: published codes pass, every single-character corruption fails."""

from hypothesis import given
from hypothesis import strategies as st

from checkonce.registry.creditcode import (
    ALPHABET,
    check_character,
    credit_code_problem,
    is_valid_credit_code,
    make_credit_code,
    org_check_digit,
)

# Codes printed on real business licences / in the GB 32100 standard's example.
PUBLISHED = ["91350100M000100Y43", "91110000802100433B"]


def test_published_codes_are_valid():
    for code in PUBLISHED:
        assert credit_code_problem(code) is None, code


def test_wrong_check_character_names_the_expected_one():
    problem = credit_code_problem("91350100M000100Y44")
    assert problem is not None and "应为 3" in problem


def test_length_charset_and_division_errors_are_specific():
    assert "18 位" in credit_code_problem("91350100M000100Y4")
    assert "非法字符" in credit_code_problem("91350100M000100I43")
    assert "非法字符" in credit_code_problem("91350100m000100y43")
    assert "行政区划" in credit_code_problem("913501A0M000100Y43".replace("A", "B"))
    assert "为空" in credit_code_problem("  ")


def test_org_check_digit_matches_gb11714_example():
    # GB 11714 worked example: D2143569 -> check digit X
    assert org_check_digit("D2143569") == "X"


bodies = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8)
divisions = st.sampled_from(["610102", "610113", "610124", "110000"])


@given(body=bodies, division=divisions)
def test_generated_codes_are_valid(body, division):
    assert is_valid_credit_code(make_credit_code("91", division, body))


@given(body=bodies, position=st.integers(0, 17), shift=st.integers(1, 30))
def test_any_single_substitution_is_detected(body, position, shift):
    code = make_credit_code("91", "610113", body)
    new_char = ALPHABET[(ALPHABET.index(code[position]) + shift) % 31]
    corrupted = code[:position] + new_char + code[position + 1 :]
    assert not is_valid_credit_code(corrupted)


@given(body=bodies, position=st.integers(0, 16))
def test_adjacent_transposition_is_detected(body, position):
    code = make_credit_code("91", "610113", body)
    if code[position] == code[position + 1]:
        return
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    assert not is_valid_credit_code(swapped)


def test_check_character_is_in_alphabet():
    assert check_character("91350100M000100Y4") == "3"
