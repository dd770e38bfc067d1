"""Numbers and dates that records state many ways: dates, pain with and without medication, visits
completed, daily morphine equivalents, duration of use, age, work status.

Each reader takes the rule's value patterns (named groups, from the rule file) and a sentence, and returns
the value or None. Dates and fractions ("3/5/2015", "10/325", "1/2 tab", "5/5 strength") are never scores:
the patterns in the rule files exclude them and the readers check ranges.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache

from drafter.dates import DATE, MONTH_WORD, dates_in, parse_date, parse_month_year  # noqa: F401 (re-exported)
from drafter.facts.schema import FactRule

WORD_NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
                "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "twenty-four": 24,
                "thirty": 30, "thirty-six": 36, "forty": 40, "a single": 1, "single": 1, "a couple of": 2, "several": None,
                "half": 0.5, "1/2": 0.5, "½": 0.5, "a": 1, "an": 1,
                "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
                "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12}

def to_number(s: str | None) -> float | None:
    if s is None:
        return None
    s = re.sub(r"(?<=\d)(?:st|nd|rd|th)$", "", s.strip().lower())
    if s in WORD_NUMBERS:
        v = WORD_NUMBERS[s]
        return float(v) if v is not None else None
    try:
        return float(s)
    except ValueError:
        return None


# -- value readers: (rule, sentence text, context) -> value or None ------------------------------------
class Context:
    """What a value reader may need beyond the sentence: the item and the dates around it."""

    def __init__(self, item=None, sentence_date: dt.date | None = None, request_date: dt.date | None = None) -> None:
        self.item = item
        self.sentence_date = sentence_date
        self.request_date = request_date

    @property
    def as_of(self) -> dt.date | None:
        return self.sentence_date or self.request_date


Reader = Callable[[FactRule, str, Context], "float | str | None"]


def _matches(rule: FactRule, text: str):
    for p in rule.value_patterns:
        for m in re.finditer(p.regex, text, re.I):
            yield p, m


_FRACTIONS = {"half": 50, "a third": 33, "one third": 33, "two thirds": 67, "a quarter": 25, "one quarter": 25, "three quarters": 75}


def read_pain_relief(rule: FactRule, text: str, ctx: Context) -> float | None:
    """Percent pain reduction: 8/10 without and 4/10 with -> 50; "50% relief" -> 50."""
    for _, m in _matches(rule, text):
        g = m.groupdict()
        if g.get("fraction"):
            return _FRACTIONS[g["fraction"].lower()]
        if g.get("percent"):
            v = float(g["percent"])
            if 0 < v <= 100:
                return round(v)
        before = to_number(g.get("without") or g.get("before"))
        after = to_number(g.get("with") or g.get("after"))
        if before is not None and after is not None and 0 < before <= 10 and 0 <= after <= 10 and after < before:
            return round((before - after) / before * 100)
    return None


def _first_number(rule: FactRule, text: str, group: str, low: float, high: float) -> float | None:
    """The first value pattern's named group that reads a number within [low, high]."""
    for _, m in _matches(rule, text):
        v = to_number(m.group(group))
        if v is not None and low <= v <= high:
            return v
    return None


# a count stated as asked for, not done: "Request: aquatic therapy x 8", "authorization for PT x 12"
_ASKED = re.compile(r"\b(?:request\w*|rfa|recommend\w*|plan|order(?:ed|s)?|authoriz\w*|certif\w*|approv\w*|denied|modif\w*|"
                    r"additional|more|further|another)\b(?:\W+\w+){0,3}\W*$", re.I)
_DONE = re.compile(r"(?:s/p|status post|completed|attended|finished|had|has had|have had|received|underwent|undergone|participated|"
                   r"after|following|despite|attendance|gone)\b", re.I)


def read_count(rule: FactRule, text: str, ctx: Context) -> float | None:
    """A count of visits or sessions done ("completed 6 of 12", "s/p 24 sessions", "visit 8", "eight visits to date").
    A count that does not start with a word of completion and follows a request word in its clause is the
    number asked for, not the number done."""
    for _, m in _matches(rule, text):
        v = to_number(m.groupdict().get("n") or m.groupdict().get("n2"))
        if v is None or not 0 <= v <= 300:
            continue
        clause = re.split(r"[.;,]", text[:m.start()])[-1]
        if not _DONE.match(m.group(0)) and _ASKED.search(clause):
            continue
        return v
    return None


def read_percent(rule: FactRule, text: str, ctx: Context) -> float | None:
    return _first_number(rule, text, "percent", 0, 100)


def read_injection_relief(rule: FactRule, text: str, ctx: Context) -> float | None:
    """Percent relief after an injection: the last percent a sentence states (lists run oldest first:
    "2/2013 (70%), 9/2013 (50%), 5/2014 (20%)"). Under the rule's `meaningful_min` (a clinically meaningful
    change) is not documented relief: None, and the rule's absent patterns read it."""
    found = sorted((m.start(), float(m.group("percent"))) for _, m in _matches(rule, text))
    found = [(at, v) for at, v in found if 0 <= v <= 100]
    if not found:
        return None
    last = found[-1][1]
    return round(last) if last >= (rule.meaningful_min or 0) else None


def read_date(rule: FactRule, text: str, ctx: Context) -> str | None:
    for _, m in _matches(rule, text):
        d = parse_date(m.group("date"))
        if d:
            return d.isoformat()
    return None


def read_age(rule: FactRule, text: str, ctx: Context) -> float | None:
    for _, m in _matches(rule, text):
        g = m.groupdict()
        stated = g.get("age") or g.get("age2")  # age2: a second way a pattern may state it ("(47, F)")
        if stated:
            v = float(stated)
            if 14 <= v <= 100:
                return v
        if g.get("dob") and ctx.as_of:
            born = parse_date(g["dob"])
            if born:
                years = ctx.as_of.year - born.year - ((ctx.as_of.month, ctx.as_of.day) < (born.month, born.day))
                if 14 <= years <= 100:
                    return float(years)
    return None


_UNIT_WEEKS = {"d": 1 / 7, "w": 1.0, "m": 4.35, "y": 52.0}


def read_duration_weeks(rule: FactRule, text: str, ctx: Context) -> float | None:
    """Weeks of use up to the sentence's date: "since 1/2014", "for 6 months", "x 2 years", "started 3/1/2014"."""
    for _, m in _matches(rule, text):
        g = m.groupdict()
        if g.get("since") and ctx.as_of:
            start = parse_month_year(g["since"])
            as_of = ctx.as_of
            # a sentence dated by the very date it names ("since 01/05/2015" in an undated summary): count to the request
            if start and start >= as_of and ctx.request_date and ctx.request_date > start:
                as_of = ctx.request_date
            if start and start <= as_of:
                return round((as_of - start).days / 7)
        if g.get("unit"):
            n = to_number(g["n"]) if g.get("n") else 1.0  # "for the past year": one of the unit
            if n is not None:
                return round(n * _UNIT_WEEKS[g["unit"].lower()[0]])
    return None


def read_category(rule: FactRule, text: str, ctx: Context) -> str | None:
    """The `value` of the first value pattern that matches (work status: off_work, modified_duty, ...)."""
    for p, _ in _matches(rule, text):
        return p.value
    return None


# -- morphine milligram equivalents -----------------------------------------------------------------------
@lru_cache(maxsize=1)
def opioid_table() -> list[tuple[str, str, dict]]:
    """(name pattern, generic, entry) for every opioid the lexicon knows, longest names first."""
    from drafter.facts.pipeline import load_lexicon

    rows = []
    for generic, entry in load_lexicon("opioids")["opioids"].items():
        for name in [generic, *entry.get("names", [])]:
            rows.append((name, generic, entry))
    return sorted(rows, key=lambda r: -len(r[0]))


_FREQ = [
    (r"\bq\.?\s?(\d{1,2})\s*(?:-|to)\s*(\d{1,2})\s*h", lambda m: 24 / float(m.group(1))),
    (r"\bq\.?\s?(\d{1,2})\s*(?:h|hrs?|hours?)\b", lambda m: 24 / float(m.group(1))),
    (r"\bevery\s+(\d{1,2})\s*(?:-|to)\s*(\d{1,2})\s*(?:h|hrs?|hours?)\b", lambda m: 24 / float(m.group(1))),
    (r"\bevery\s+(\d{1,2})\s*(?:h|hrs?|hours?)\b", lambda m: 24 / float(m.group(1))),
    (r"\b(\d)\s*(?:-|to)\s*(\d)\s*(?:times|x)\s*(?:(?:a|per|/)\s*day|daily)\b", lambda m: float(m.group(2))),
    (r"\b(\d)\s*(?:times|x)\s*(?:(?:a|per|/)\s*day|daily)\b", lambda m: float(m.group(1))),
    (r"\bevery\s+(two|three|four|six|eight|twelve)\s*(?:-|to|or)\s*(?:three|four|six|eight|twelve)\s*(?:hrs?|hours?)\b|\bevery\s+(two|three|four|six|eight|twelve)\s*(?:hrs?|hours?)\b",
     lambda m: 24 / (to_number(m.group(1) or m.group(2)) or 24)),
    (r"\b(?:qid|q\.i\.d\.?|four times (?:a |per )?day|four times daily)(?![a-z])", lambda m: 4.0),
    (r"\b(?:tid|t\.i\.d\.?|three times (?:a |per )?day|three times daily)(?![a-z])", lambda m: 3.0),
    (r"\b(?:bid|b\.i\.d\.?|twice (?:a|per) day|twice daily)(?![a-z])", lambda m: 2.0),
    (r"\b(?:daily|qd|q\.d\.|once (?:a|per) day|qhs|at bedtime|nightly|q\s?am|q\s?pm|every (?:morning|evening|night))\b", lambda m: 1.0),
]
_COUNT = r"(?:(\d(?:\.\d)?|one|two|three|four|1/2|½|half|a)\s*(?:(?:tabs?|tablets?|pills?)\s*)?(?:-|to)\s*)?(\d(?:\.\d)?|one|two|three|four|1/2|½|half(?: a)?|a)\s*(?:tabs?|tablets?|pills?|caps?(?:ules?)?|po)\b"


# a count (and perhaps the strength) said before the drug's name: "2 tablets of Norco", "2 of the 10-milligram Norco"
_PRE_NAME = re.compile(r"(?<![\d/.#])(?P<n>\d(?:\.\d)?|1/2|half)\s+(?:(?:tabs?|tablets?|pills?|caps?(?:ules?)?)\s+)?(?:of\s+)?(?:(?:the|her|his)\s+)?"
                       r"(?:(?P<mg>\d+(?:\.\d+)?)\s*-?\s*(?:mg|milligrams?)\s+)?$")


# a tablet count with no unit, right after the strength and before the frequency: "Ultram 50 1-2 q6h prn"
_COUNT_BARE = r"\s*(?:(\d)\s*(?:-|to)\s*)?(\d)\s+(?=(?:q\.?\s?\d|every\b|bid\b|tid\b|qid\b|qd\b|daily\b|prn\b))"
_PER_DAY = r"\b(\d{1,2})\s*(?:(?:tabs?|tablets?|pills?|caps?(?:ules?)?)\s*)?(?:/|per|a|each)\s*day\b"
# a dose changed: "reduced from 4/day to 2/day", "from four tablets per day to two", "from QID to TID"; the later one is
# the dose taken now
_CHANGED = re.compile(r"\bfrom\s+(?P<a>[^,;]{1,40}?)\s+to\s+(?P<b>(?:\d|one|two|three|four|five|six|1/2|half)\b[^,;]{0,30}|"
                      r"(?:qid|tid|bid|daily|q\s?\d+\s*h)\b[^,;]{0,20})", re.I)
_DAY_WORDS = re.compile(r"(?:/|\bper\s+|\ba\s+|\beach\s+)day\b|\bdaily\b", re.I)


def _dose_per_day(segment: str) -> float | None:
    """Tablets (or patches) a day from a medication segment: count x frequency (the first frequency the
    segment states), or a stated number of tablets a day ("up to 5 tablets per day", "3 tabs/day"); after a change of
    dose, the dose it was changed to."""
    ch = _CHANGED.search(segment)
    if ch:
        later = _dose_per_day(ch.group("b"))
        if later is None and _DAY_WORDS.search(ch.group(0)):  # "from four tablets per day to two"
            n = to_number(re.match(r"\d+(?:\.\d+)?|[\w/]+", ch.group("b")).group(0))
            later = n if n and 0 < n <= 24 else None
        if later is not None:
            return later
    t = re.search(_PER_DAY, segment, re.I)
    if t and 0 < float(t.group(1)) <= 24:
        return float(t.group(1))
    found = [(m.start(), fn(m)) for pat, fn in _FREQ for m in [re.search(pat, segment, re.I)] if m]
    if not found:
        return None
    per_day = min(found, key=lambda x: x[0])[1]
    count = 1.0
    c = re.search(_COUNT, segment, re.I) or re.match(_COUNT_BARE, segment, re.I)
    if c:
        hi = c.group(2).lower().replace(" a", "")
        count = to_number(hi) or 1.0
    return count * per_day


def read_stated_mme(rule: FactRule, text: str) -> float | None:
    """A daily MED/MME the record states ("MED 90", "120 mg morphine equivalents a day")."""
    return _first_number(rule, text, "mme", 1, 2000)


@lru_cache(maxsize=1)
def _any_opioid() -> re.Pattern:
    return re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(n) for n, _, _ in opioid_table()) + r")(?![a-z])")


@lru_cache(maxsize=64)
def _other_drug(generic: str) -> re.Pattern:
    """Any drug the drug table knows whose generic is not this opioid's (names of four letters or more)."""
    from drafter.items import drug_table

    names = [re.escape(n) for n, (g, _, _) in drug_table().items() if len(n) >= 4 and generic not in g and g not in generic]
    return re.compile(r"(?<![a-z])(?:" + "|".join(names) + r")(?![a-z])")


@lru_cache(maxsize=1)
def _stopped() -> tuple[re.Pattern, re.Pattern]:
    """Words just before a drug, or just after its dose, that say it is no longer taken."""
    from drafter.facts.pipeline import load_lexicon

    lex = load_lexicon("opioids")
    return re.compile(lex["stopped_before"], re.I), re.compile(lex["stopped_after"], re.I)


@lru_cache(maxsize=1)
def _past_dose() -> re.Pattern:
    """Words before a drug in its clause that mark an earlier dose ("was on", "the 11/2017 note had listed")."""
    from drafter.facts.pipeline import load_lexicon

    return re.compile(load_lexicon("opioids")["earlier_dose"], re.I)


_LATER_STRENGTH = re.compile(r"\b(?:now taking|taking|takes|now on|currently on|currently taking|now using|using|uses)\s+"
                             r"(\d+(?:\.\d+)?)(?:\s*mg)?\s*/\s*\d{3}(?:\s*mg)?|\b(?:now taking|taking|takes|now on|currently on|"
                             r"currently taking|now using|using|uses)\s+(\d+(?:\.\d+)?)\s*mg\b")


def mme_by_drug(text: str) -> dict[str, float]:
    """Daily MME per opioid a sentence lists with strength, tablets and frequency (lexicon factors); two
    current forms of one drug add up. A dose the clause marks as earlier ("at the last visit was on ...") counts only when the sentence states no other."""
    current, earlier = mme_current_and_earlier(text)
    return {**earlier, **current}


def mme_current_and_earlier(text: str) -> tuple[dict[str, float], dict[str, float]]:
    out: dict[str, float] = {}
    old: dict[str, float] = {}
    low = text.lower()
    taken: list[tuple[int, int]] = []
    for name, generic, entry in opioid_table():
        for m in re.finditer(rf"(?<![a-z]){re.escape(name)}(?![a-z])", low):
            if any(a <= m.start() < b for a, b in taken):
                continue
            # a comma before a daily cap ("1-2 tabs q4-6h prn, max 8 tabs/day") does not end the drug's segment
            nxt = re.search(r"[;,]\s*(?!max\b|maximum\b|up to\b|not to exceed\b)(?=[a-z]+\s+\d)|\.\s|\n", low[m.end():])
            seg = low[m.end(): m.end() + (nxt.start() if nxt else 120)][:140]
            other = _any_opioid().search(seg)  # the next opioid named ends this one's segment
            if other and other.start() > 0:
                seg = seg[:other.start()]
            # so does any other drug ("Norco 10/325 and omeprazole 20 mg daily"), but not the combination's own partner
            # ("Hydrocodone-APAP 10-325 MG")
            partner = re.match(r"\s*[-/]\s*(?:apap|acetaminophen|ibuprofen|aspirin|asa)(?![a-z])", seg)
            other = _other_drug(generic).search(seg, partner.end() if partner else 0)
            if other and other.start() > (partner.end() if partner else 0):
                seg = seg[:other.start()]
            clause = re.split(r"[.;]|\bnow\b|\btoday\b|\bcurrently\b", low[:m.start()])[-1]
            dest = old if _past_dose().search(clause) else out
            # "Hydrocodone-APAP 10-325 MG" (an EMR's drug name) as well as "Norco 10/325 mg"
            strength = re.match(r"[\s()]*(?:er|ir|cr|sr|xr|hcl|apap|bitartrate|sulfate|/apap|/acetaminophen|-apap|-acetaminophen|\s|\))*\s*(\d+(?:\.\d+)?)\s*(?:mg|mcg|µg|milligrams?|micrograms?)?(?:\s*[/-]\s*\d{3}(?:\.\d+)?\s*(?:mg)?|\s*/\s*\d+(?:\.\d+)?\s*(?:mg)?)?", seg)
            # the count or strength said before the name: "takes 2 tablets of Norco 5 mg", "2 of the 10-milligram Norco"
            pre = _PRE_NAME.search(low[max(0, m.start() - 40):m.start()])
            fixed = (entry.get("strengths") or {}).get(name)
            if fixed is not None and not re.match(r"[\s()]*\d+(?:\.\d+)?\s*(?:mg|/)", seg):
                mg, dose_end = float(fixed), 0  # the name states the strength ("Tylenol #3"); the schedule follows it
            else:
                if not strength:  # the drug named, its dose later in the clause: "Norco started post-op 3/11, now taking 10/325 1 tab q12h"
                    strength = _LATER_STRENGTH.search(seg)
                if not strength and not (pre and pre.group("mg")):
                    continue
                if strength:
                    mg, dose_end = float(strength.group(1) or strength.group(2)), strength.end()
                else:
                    mg, dose_end = float(pre.group("mg")), 0
                pair = re.search(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", strength.group(0)) if strength else None
                if pair and float(pair.group(1)) >= 200 > float(pair.group(2)):  # "APAP/codeine 300/30": acetaminophen first
                    mg = float(pair.group(2))
            taken.append((m.start(), m.end() + len(seg)))
            before, after = _stopped()
            if before.search(low[max(0, m.start() - 40):m.start()]) or after.search(seg[dose_end:]):
                continue
            if entry.get("patch"):  # mcg/hr patches: the factor applies to the hourly rate
                dest[generic] = max(dest.get(generic, 0.0), round(mg * float(entry["factor"]), 1))
                continue
            per_day = _dose_per_day(seg[dose_end:])
            if per_day is None:
                continue
            if pre and pre.group("n") and not (re.search(_COUNT, seg[dose_end:], re.I) or re.match(_COUNT_BARE, seg[dose_end:], re.I)):
                per_day *= to_number(pre.group("n")) or 1.0
            daily = mg * per_day
            if entry.get("tiers"):
                factor = next(f for cap, f in entry["tiers"] if daily <= cap)
            else:
                factor = entry.get("factor")
            if factor is None:
                continue
            v = round(daily * float(factor), 1)
            # two current forms of one drug in a sentence add up (an ER dose plus IR for breakthrough pain)
            dest[generic] = round(dest.get(generic, 0.0) + v, 1) if dest is out else max(dest.get(generic, 0.0), v)
    return out, old


READERS: dict[str, Reader] = {
    "pain_relief": read_pain_relief,
    "count": read_count,
    "percent": read_percent,
    "injection_relief": read_injection_relief,
    "date": read_date,
    "age": read_age,
    "duration_weeks": read_duration_weeks,
    "category": read_category,
}
