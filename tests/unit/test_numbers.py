"""Number words written as digits for the fact rules, with evidence that still quotes the record."""

import pytest

from drafter.facts.finder import FactFinder
from drafter.facts.numbers import spell_numbers
from drafter.facts.report import excerpt_case
from drafter.items import parse_item


@pytest.mark.parametrize("text, spelled", [
    ("This sixty-two-year-old bus mechanic", "This 62-year-old bus mechanic"),
    ("lowers her pain from about a nine to a six", "lowers her pain from about a 9 to a 6"),
    ("seven out of ten with the medicine", "7/10 with the medicine"),
    ("Pain 8 out of 10 today", "Pain 8/10 today"),
    ("She has done about a dozen PT sessions", "She has done about 12 PT sessions"),
    ("half a dozen visits", "6 visits"),
    ("Twenty four hours a day", "24 hours a day"),
    ("sessions.Six were certified", "sessions. 6 were certified"),
    # a dictated decimal is one number, not its first word
    ("hydrocodone seven point five mg", "hydrocodone 7.5 mg"),
    ("Norco ten point five", "Norco 10.5"),
    ("two point zero", "2.0"),
    # an interpreted answer quoted in Spanish
    ("she rates pain 'ocho' without and 'siete' with the medicine", "she rates pain '8' without and '7' with the medicine"),
    ("pain 'de siete a tres.' He reports", "pain 'de 7 a 3.' He reports"),
])
def test_number_words_become_digits(text, spelled):
    assert spell_numbers(text).text == spelled


@pytest.mark.parametrize("text", [
    "no one at home", "the one on the left", "one of the visits", "someone called", "one half tab twice daily",
    "two thirds better", "Tendon intact", "3/5/2015 Norco 10/325",
    "DOS: 3/5/2015 seen", "Uno dos tres", "It's a dos and don'ts list",
])
def test_words_that_are_not_counts_stay(text):
    assert spell_numbers(text).text == text


def test_offsets_map_back_to_the_record():
    text = "He is forty-seven. Pain seven out of ten."
    s = spell_numbers(text)
    at = s.text.index("Pain")
    assert text[s.to_original(at):s.to_original(len(s.text))] == "Pain seven out of ten."
    assert s.to_spelled(text.index("Pain")) == at
    assert s.to_original(s.text.index("47")) == text.index("forty-seven")


def test_a_value_stated_in_words_is_read_and_its_evidence_quotes_the_record():
    text = "The applicant is a forty-seven-year-old housekeeper. Ultram lowers her pain from seven out of ten to four out of ten."
    case = excerpt_case(text)
    age = FactFinder(case).find("age")
    assert (age.status, age.value) == ("present", 47)
    ev = age.evidence[0]
    assert ev.quote == "The applicant is a forty-seven-year-old housekeeper."
    assert case.evidence[0].text[ev.start:ev.end] == ev.quote
    relief = FactFinder(case).find("pain_score_change", parse_item("Ultram 50 mg #60"))
    assert (relief.status, relief.value) == ("present", 43)
    assert "seven out of ten" in relief.evidence[0].quote


def test_tablets_three_times_daily_in_digits_count_as_three_a_day():
    f = FactFinder(excerpt_case("She takes Norco 10/325 3 times daily.")).find("daily_mme", parse_item("Norco 10/325 #90"))
    assert (f.status, f.value) == ("present", 30)
