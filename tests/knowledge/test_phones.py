"""Phone numbers in text: found however they are written, ordinary numbers left alone."""

from __future__ import annotations

import pytest

from knowledge.phones import phone_numbers_in, unknown_numbers


@pytest.mark.parametrize(
    "text",
    [
        "Ring 112.",
        "ring 114 14",
        "1177 Vårdguiden",
        "Självmordslinjen 90101",
        "BRIS 116 111",
        "Kvinnofridslinjen 020-50 50 50",
        "ring 070-123 45 67",
        "+46 70 123 45 67",
        "013-20 60 00",
    ],
)
def test_phone_numbers_are_found(text):
    assert phone_numbers_in(text)


@pytest.mark.parametrize("text", ["26 kap.", "6 kap. skollagen", "sedan 2017", "barn under 18 år", "klockan 16.30"])
def test_ordinary_numbers_are_not_phone_numbers(text):
    assert phone_numbers_in(text) == []


def test_unknown_numbers_compare_digits_not_spacing(kb):
    allowed = [line.number for line in kb.lines]
    assert unknown_numbers("Ring 020 505050 eller 11414.", allowed) == []
    assert unknown_numbers("Ring 020-50 50 51.", allowed) == ["020-50 50 51"]
