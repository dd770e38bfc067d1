"""Item parsing on 200+ labeled item strings written the way letters and UR decisions list them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drafter.items import drug_table, parse_item

ROWS = [json.loads(line) for line in (Path(__file__).parent / "data" / "item_strings.jsonl").read_text().splitlines() if line.strip()]
FIELDS = [k for k in ROWS[0] if k != "item"]


def test_the_labeled_set_is_large_and_varied():
    assert len(ROWS) >= 100
    assert len({r["category"] for r in ROWS}) >= 12


@pytest.mark.parametrize("row", ROWS, ids=[r["item"][:40] for r in ROWS])
def test_item_parses_as_labeled(row):
    got = parse_item(row["item"]).model_dump()
    diffs = {f: (row[f], got[f]) for f in FIELDS if got[f] != row[f]}
    assert not diffs, diffs


def test_drug_table_maps_brands_to_generics():
    table = drug_table()
    assert table["norco"] == ("hydrocodone/acetaminophen", "opioids", True)
    assert table["soma"][0] == "carisoprodol" and table["naproxen sodium"][2] is False


def test_search_text_adds_normalized_names():
    assert "hydrocodone/acetaminophen" in parse_item("Norco 10/325 #90").search_text
    assert "physical therapy" in parse_item("PT 2x6 L/S").search_text


@pytest.mark.parametrize("text", ["", "   ", "???", "x" * 5000])
def test_odd_strings_never_raise(text):
    parse_item(text)
