"""Numbers that records spell out ("a forty-seven-year-old", "seven out of ten", "a dozen sessions"), written
as digits for the fact rules, with a map back to the record's own offsets.

The rules and value readers read digits; dictated and narrative notes state the same numbers in words.
Rather than double every pattern, the text the pipeline reads has its number words written as digits, and
every offset it reports is mapped back, so evidence quotes the record as written.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}

_SPANISH = {"cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
            "nueve": 9, "diez": 10}
# a quotation opened after a space (not "it's") at most three words before, and closed at most three words after
_OPENS = re.compile(r"(?:^|[\s(:])['\"\u2018\u201c](?:[^\W\d_]+\s+){0,3}$")
_CLOSES = re.compile(r"(?:\s+[^\W\d_]+){0,3}\s*[.,!?]?['\"\u2019\u201d]")
_UNIT = "|".join(_UNITS)
_WORD = rf"(?:(?:{'|'.join(_TENS)})(?:[- ](?:{_UNIT}))?|{'|'.join(_TEENS)}|{_UNIT})"
_NUMBER = re.compile(
    r"(?<![\w-])(?:"
    # a score out of ten ("seven out of ten", "7 out of 10") is written as the notes write scores: 7/10
    rf"(?P<score>\d{{1,2}}|{_WORD})\s+out\s+of\s+(?:10|ten)(?![\w/])"
    # a dictated decimal ("seven point five mg", "two point five"): read whole, never as its first word
    rf"|(?P<whole>{_WORD}|zero|\d{{1,3}})\s+point\s+(?P<tenths>{_UNIT}|zero)"
    rf"|"
    rf"(?P<half_dozen>half\s+a\s+dozen)"
    # Spanish number words, read only inside a quotation (an interpreted answer: pain 'ocho' without, 'de siete a tres')
    rf"|(?P<es>{'|'.join(_SPANISH)})"
    rf"|(?P<dozen>(?:a\s+)?dozen)(?!\s+or\s+so\b)"
    rf"|(?P<tens>{'|'.join(_TENS)})(?:[- ](?P<unit>{_UNIT}))?"
    rf"|(?P<teen>{'|'.join(_TEENS)})"
    rf"|(?P<single>{_UNIT})"
    r")(?![\w])(?!\s*-?\s*(?:half|halves|thirds?|quarters?)\b)",
    re.I,
)
# "one" is a number only where a count or score follows or precedes it; "no one", "the one on the left",
# "one of the", "one-sided" stay words
_ONE_AS_WORD = re.compile(r"(?:\b(?:no|any|every|some|each|the|this|that|which|another|other|only|little)\s+$)", re.I)
_ONE_FOLLOWED_AS_WORD = re.compile(r"^\s*(?:of\b|another\b|day\b|time\b|way\b|side\b|hand\b|another|thing\b|-sided|\')", re.I)


@dataclass
class Spelled:
    """The text with number words as digits, and the pieces that changed (new start, new end, old start, old end)."""

    text: str
    changes: list[tuple[int, int, int, int]] = field(default_factory=list)

    def to_original(self, offset: int) -> int:
        """An offset of `text` as an offset of the record (inside a replaced number: its end)."""
        return self._map(offset, 0, 2)

    def to_spelled(self, offset: int) -> int:
        """An offset of the record as an offset of `text`."""
        return self._map(offset, 2, 0)

    def _map(self, offset: int, src: int, dst: int) -> int:
        """`offset` from one side of the changes (0: the rewritten text, 2: the record) to the other."""
        i = bisect.bisect_right([c[src] for c in self.changes], offset) - 1
        if i < 0:
            return offset
        change = self.changes[i]
        src_start, src_end, dst_start, dst_end = change[src], change[src + 1], change[dst], change[dst + 1]
        if offset >= src_end:
            return offset - src_end + dst_end
        return dst_start if offset == src_start else dst_end


def _value(m: re.Match) -> int | str | None:
    g = m.groupdict()
    if g["score"]:
        number = g["score"] if g["score"].isdigit() else spell_numbers(g["score"]).text
        return f"{number}/10" if number.isdigit() else None
    if g["whole"]:
        whole = g["whole"] if g["whole"].isdigit() else spell_numbers(g["whole"]).text.replace("zero", "0")
        tenths = "0" if g["tenths"].lower() == "zero" else str(_UNITS[g["tenths"].lower()])
        return f"{whole}.{tenths}" if whole.isdigit() else None
    if g["es"]:
        before, after = m.string[max(0, m.start() - 30):m.start()], m.string[m.end():m.end() + 30]
        quoted = _OPENS.search(before) and _CLOSES.match(after)
        return _SPANISH[g["es"].lower()] if quoted else None
    if g["half_dozen"]:
        return 6
    if g["dozen"]:
        return 12
    if g["tens"]:
        return _TENS[g["tens"].lower()] + (_UNITS[g["unit"].lower()] if g["unit"] else 0)
    if g["teen"]:
        return _TEENS[g["teen"].lower()]
    word = g["single"].lower()
    if word == "one":
        before, after = m.string[max(0, m.start() - 20):m.start()], m.string[m.end():m.end() + 12]
        if _ONE_AS_WORD.search(before) or _ONE_FOLLOWED_AS_WORD.match(after):
            return None
    return _UNITS[word]


def spell_numbers(text: str) -> Spelled:
    """`text` with its number words as digits ("forty-seven" -> "47", "a dozen" -> "12", "seven out of ten" -> "7/10")."""
    out: list[str] = []
    changes: list[tuple[int, int, int, int]] = []
    last = 0
    length = 0
    for m in _NUMBER.finditer(text):
        v = _value(m)
        if v is None:
            continue
        out.append(text[last:m.start()])
        length += m.start() - last
        digits = str(v)
        if m.start() >= 2 and text[m.start() - 1] == "." and text[m.start() - 2].isalpha() and m.group(0)[0].isupper():
            digits = " " + digits  # "sessions.Six biofeedback": a sentence boundary the capital marked, kept
        changes.append((length, length + len(digits), m.start(), m.end()))
        out.append(digits)
        length += len(digits)
        last = m.end()
    if not changes:
        return Spelled(text)
    out.append(text[last:])
    return Spelled("".join(out), changes)
