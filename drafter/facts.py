"""Case facts, each with its source span: rules over the records (not the UR letter's opinion).

A fact is `present` (the records document it), `absent` (the records document that it is not so, e.g.
"no change in function"), or `unknown` (the records are silent). Numbers (visits, MME, weeks) are
values of present facts. Every present or absent fact carries the sentence it came from
(file, character offsets), so the criteria stage and the reviewer can audit it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel

from drafter.intake import Case, parse_us_date
from drafter.items import ParsedItem, drug_table

Status = Literal["present", "absent", "unknown"]


class Span(BaseModel):
    """Where a fact was read: file name, character offsets in that file's text, and the quote."""

    file: str
    start: int
    end: int
    quote: str


class Fact(BaseModel):
    key: str
    status: Status = "unknown"
    value: Any = None
    span: Span | None = None
    note: str = ""

    @property
    def known(self) -> bool:
        return self.status != "unknown"


@dataclass(frozen=True)
class Sentence:
    file: str
    start: int
    end: int
    text: str

    @property
    def low(self) -> str:
        return self.text.lower()

    def span(self) -> Span:
        return Span(file=self.file, start=self.start, end=self.end, quote=self.text)


_SPLIT = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\[])|\n\s*\n|\n(?=\s*(?:[A-Z][A-Z /&'()-]{2,}:|\d+[.)]\s|[-*•]\s))")
NUM_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
             "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "eighteen": 18, "twenty": 20, "twenty-four": 24}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
            "tenth": 10, "eleventh": 11, "twelfth": 12}
NUM = r"(\d+|" + "|".join(sorted(NUM_WORDS, key=len, reverse=True)) + r")"
NEG = r"\b(no|not|denies|denied|without|none|negative for|absent|never|nor|unable|cannot|can't|didn't|did not|does not|doesn't|has not|have not|hasn't|lack|lacks|neither)\b"


def to_num(s: str) -> float:
    s = s.lower()
    return float(NUM_WORDS[s]) if s in NUM_WORDS else float(s)


def split_sentences(file: str, text: str) -> list[Sentence]:
    out: list[Sentence] = []
    pos = 0
    for piece in _SPLIT.split(text):
        if piece is None:
            continue
        start = text.find(piece, pos)
        if start < 0:
            start = pos
        end = start + len(piece)
        pos = end
        clean = re.sub(r"(?<=\w)/\s+(?=\w)", "/", " ".join(piece.split()))
        if len(clean) >= 3:
            out.append(Sentence(file, start, end, clean))
    return out


def negated(low: str, at: int, window: int = 60) -> bool:
    """True when a negation word stands before position `at` in the same clause."""
    clause_start = max(low.rfind(sep, 0, at) for sep in (".", ";", ":", " but ", " however", ", and "))
    head = low[max(clause_start + 1, at - window):at]
    return re.search(NEG, head) is not None


# treatment words used to find item-specific statements
TREATMENT_WORDS: dict[str, str] = {
    "physical therapy": r"physical therapy|\bpt\b|physiotherapy|therapy visits|therapeutic exercise",
    "occupational therapy": r"occupational therapy|\bot\b|hand therapy",
    "chiropractic": r"chiropract\w*|manipulation|\bcmt\b|chiro\b",
    "acupuncture": r"acupuncture|acupuncturist",
    "aquatic therapy": r"aqua\w*|pool",
    "massage therapy": r"massage",
    "cognitive behavioral therapy": r"\bcbt\b|cognitive behavio\w*|psychotherapy|counsel\w*|sessions with (?:the )?psycholog\w*",
    "work hardening": r"work (?:hardening|conditioning)",
    "functional restoration program": r"functional restoration|\bfrp\b|pain program",
    "epidural steroid injection": r"epidural|\besi\b|\blesi\b|\btfesi\b",
    "trigger point injection": r"trigger point|\btpi",
    "tens": r"\btens\b",
}


class FactFinder:
    """Finds facts in a case; item-specific facts take the disputed item into account."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.request_date = case.request_date

    @cached_property
    def sentences(self) -> list[Sentence]:
        out: list[Sentence] = []
        for d in self.case.evidence:
            out.extend(split_sentences(d.name, d.text))
        return out

    @cached_property
    def all_text(self) -> str:
        return "\n".join(d.text for d in self.case.evidence).lower()

    # -- helpers ---------------------------------------------------------------------------
    def search(self, pattern: str, within: str | None = None) -> list[tuple[Sentence, re.Match]]:
        out = []
        pattern = pattern.replace("[^.]", r"(?:[^.]|\.(?=\d))")  # a decimal point ("7.5 mg") is not a sentence end
        rx = re.compile(pattern, re.I)
        near = re.compile(within, re.I) if within else None
        for s in self.sentences:
            for m in rx.finditer(s.text):
                if near is None or near.search(s.text):
                    out.append((s, m))
        return out

    def polar(self, key: str, pos: str, neg: str | None = None, within: str | None = None, prefer: str = "absent",
              exclude: str | None = None) -> Fact:
        """present if a positive pattern occurs un-negated; absent if negated or a negative pattern occurs.

        Sentences matching `exclude` (statements about other treatments) are not read.
        """
        pos_hits, neg_hits = [], []
        skip = re.compile(exclude, re.I) if exclude else None
        for s, m in self.search(pos, within):
            if skip is None or not skip.search(s.text):
                (neg_hits if negated(s.low, m.start()) else pos_hits).append(s)
        if neg:
            neg_hits += [s for s, _ in self.search(neg, within) if skip is None or not skip.search(s.text)]
        if neg_hits and (prefer == "absent" or not pos_hits):
            return Fact(key=key, status="absent", span=neg_hits[0].span())
        if pos_hits:
            return Fact(key=key, status="present", span=pos_hits[0].span())
        if neg_hits:
            return Fact(key=key, status="absent", span=neg_hits[0].span())
        return Fact(key=key)

    def _other_treatments(self, item: ParsedItem) -> str:
        """A pattern for treatments other than the item's (therapies and drugs), to skip their statements."""
        mine = item.treatment
        pats = [p for t, p in TREATMENT_WORDS.items() if t != mine]
        drugs = [re.escape(n) for n, (g, _, _) in drug_table().items() if g != item.generic and len(n) >= 5]
        return "|".join(pats + [r"\b(?:" + "|".join(drugs) + r")\b", r"\binjections?\b|\bblocks?\b|\bsurgery\b"])

    def treatment_pattern(self, item: ParsedItem) -> str:
        if item.treatment == "medication":
            names = [re.escape(n) for n, (g, _, _) in drug_table().items() if g == item.generic]
            return "|".join(names) or re.escape(item.generic or item.raw.split()[0])
        return TREATMENT_WORDS.get(item.treatment, re.escape(item.treatment))

    # -- item-specific facts ---------------------------------------------------------------
    def _other_region_only(self, s: Sentence, item: ParsedItem) -> bool:
        """True when the sentence names body regions, none of them the item's (visits for another body part)."""
        if not item.body_regions:
            return False
        from drafter.items import _REGIONS

        named = {name for name, pat in _REGIONS if re.search(pat, s.low)}
        return bool(named) and not (named & set(item.body_regions))

    def prior_visits(self, item: ParsedItem, key: str = "prior_visits_completed") -> Fact:
        """Visits of this treatment already completed, from statements of completion (not requests).

        Statements about another body region do not count; two documents that disagree give `unknown`.
        """
        treat = self.treatment_pattern(item)
        none = [(s, m) for s, m in self.search(rf"\b(?:no|never|not had|has not had|without|denies)\b[^.]{{0,40}}?(?:prior |previous |any )?(?:{treat})")
                if not self._other_region_only(s, item)]
        cands: list[tuple[float, Sentence]] = []
        pats = [
            rf"(?:{treat})[^.;:]{{0,50}}?(?:x|times)\s*{NUM}\b(?!\s*(?:weeks?|wks?|months?|days?|/))",
            rf"{NUM}\s*(?:\(\d+\)\s*)?(?:prior |previous |completed |authorized |certified |additional |total )?(?:sessions|visits|treatments|appointments)\s+(?:of\s+)?(?:[a-z]+\s+){{0,2}}(?:{treat})",
            rf"(?:{treat})[^.;]{{0,80}}?\b{NUM}\s*(?:\(\d+\)\s*)?(?:sessions|visits|treatments)\b",
        ]
        done = r"session (?:number|#|no)|(?:was|is) (?:the |her |his )?\w+ (?:session|visit|treatment)|complet|to date|so far|has had|had \d|has attended|attended|total of|received|underwent|status post|\bprior\b|previous|since \d|\(\d{1,2}/\d{2,4}\s*-|\d{4}\s*-\s*\d{4}|\d{1,2}/\d{4}\s*-|session (?:number|#)|was (?:the|her|his) \w+ session"
        ordinal = "|".join(ORDINALS)
        counted = [  # "today's session is her fourth CBT session", "visit #5": a count by itself
            rf"\b(?:is|was|marks|represents)\s+(?:the\s+|her\s+|his\s+)?({ordinal}|\d+(?:st|nd|rd|th))\s+(?:[a-z-]+\s+){{0,2}}(?:{treat}|sessions?|visits?|treatments?)",
            r"(?:session|visit|treatment) (?:number|#|no\.?)\s*(\d+)",
        ]
        for p in pats + counted:
            for s, m in self.search(p):
                g = m.group(1).lower()
                n = float(ORDINALS[g]) if g in ORDINALS else to_num(re.sub(r"(st|nd|rd|th)$", "", g))
                if n <= 0 or n > 200 or self._other_region_only(s, item):
                    continue
                if p in pats and not re.search(done, s.low) or p in pats and re.search(r"\b(request\w*|recommend\w*|plan\w*|would like|will|proposed)\b[^.]{0,30}$", s.low[: m.start()]):
                    continue
                cands.append((n, s))
        if cands:
            by_file: dict[str, float] = {}
            for n, s in cands:
                by_file[s.file] = max(by_file.get(s.file, 0), n)
            values = sorted(set(by_file.values()))
            best = max(cands, key=lambda c: c[0])
            if len(values) > 1 and max(values) - min(values) >= 2 and len(by_file) > 1:
                spans = "; ".join(f"{f}: {v:g}" for f, v in by_file.items())
                return Fact(key=key, status="unknown", value=None, span=best[1].span(), note=f"the records disagree on the visits completed ({spans})")
            return Fact(key=key, status="present", value=best[0], span=best[1].span())
        if none:
            return Fact(key=key, status="present", value=0, span=none[0][0].span(), note="no prior treatment of this kind")
        return Fact(key=key)

    def current_use(self, item: ParsedItem) -> Fact:
        """Whether the records show the drug is already being taken (a refill, not a first prescription)."""
        treat = self.treatment_pattern(item)
        hits = self.search(rf"(?:current medications?|medications?:|takes|taking|has been on|continues?|refill\w*|remains on|is on)[^.]{{0,120}}(?:{treat})|(?:{treat})[^.]{{0,60}}(?:since|for (?:the (?:past|last) )?\d|daily|q\d|bid|tid|qid|qhs|prn|at night|twice|three times|once)")
        return Fact(key="current_use", status="present", span=hits[0][0].span()) if hits else Fact(key="current_use")

    def duration_of_use(self, item: ParsedItem) -> Fact:
        treat = self.treatment_pattern(item)
        for s, m in self.search(rf"(?:{treat})[^.]{{0,80}}?(?:since|started(?: on| in)?|beginning)\s+(\d{{1,2}}/(?:\d{{1,2}}/)?\d{{2,4}}|\d{{4}})"):
            start = _loose_date(m.group(1))
            if start and self.request_date:
                weeks = (self.request_date - start).days / 7
                return Fact(key="duration_of_use_weeks", status="present", value=round(weeks, 1), span=s.span())
        for s, m in self.search(rf"(?:{treat})[^.]{{0,80}}?(?:for|x|about|approx\.?|approximately)\s*(?:the (?:past|last)\s*)?{NUM}\s*(weeks?|months?|years?)"):
            n = to_num(m.group(1))
            unit = m.group(2)[0]
            return Fact(key="duration_of_use_weeks", status="present", value=n * {"w": 1, "m": 4.3, "y": 52}[unit], span=s.span())
        for s, m in self.search(rf"(?:{treat})", None):
            m2 = re.search(r"(?:since|for|x)\s+(?:about\s+|approx\.?\s+)?" + NUM + r"\s*(weeks?|months?|years?)", s.low)
            if m2:
                n = to_num(m2.group(1))
                return Fact(key="duration_of_use_weeks", status="present", value=n * {"w": 1, "m": 4.3, "y": 52}[m2.group(2)[0]], span=s.span())
        return Fact(key="duration_of_use_weeks")

    def functional_improvement(self, item: ParsedItem | None) -> Fact:
        key = "functional_improvement"
        neg = (r"no (?:significant |objective |measurable |meaningful |real |documented |appreciable )?(?:functional )?"
               r"(?:improvement|gains?|benefit|change) in (?:function|activities|adls?|household|work|his function|her function|daily)"
               r"|no (?:objective |measurable |documented )?functional (?:improvement|gains?|benefit|change)"
               r"|no change in (?:function|activities|adls?|household|work status|pain or function)"
               r"|(?:function|functional status|adls?|activities|oswestry|odi|tolerances?|work status)[^.]{0,60}\b(?:unchanged|the same|no better|not improved|worse|plateau\w*)"
               r"|\bunchanged\b[^.]{0,40}(?:function|adls?|activities|oswestry|odi|tolerance)"
               r"|(?:not|unable) (?:able )?to (?:say|identify|name)[^.]{0,40}(?:more|better|different)"
               r"|without (?:any )?(?:functional )?(?:improvement|benefit)|plateau\w*|did not (?:help|improve)"
               r"|no (?:lasting|sustained) (?:benefit|improvement)")
        pos = (r"(?:improv\w*|increas\w*|better|progress\w*|gain\w*)[^.]{0,60}(?:function|adls?|activities of daily living|walk\w*|sit\w*|stand\w*|lift\w*|toleran\w*|"
               r"range of motion|rom\b|strength|chores|sleep|carry\w*|driv\w*)"
               r"|(?:oswestry|odi|disability index|roland[- ]morris|ndi|dash|pdi)[^.]{0,40}(?:improved|decreased|down|reduced) from"
               r"|(?:now able to|able to (?:return|resume)|returned to (?:full|modified|regular|usual|work)|resumed)"
               r"|\bnow (?:walks|sits|stands|lifts|drives|sleeps|works|can|tolerates|carries)"
               r"|(?:walk\w*|sit\w*|stand\w*|lift\w*)[^.]{0,30}\b\d+ to \d+ (?:minutes|hours|blocks|lbs?|pounds)"
               r"|functional (?:improvement|gains?)|(?:decreased|reduced|fewer) (?:work )?restrictions|reduc\w* (?:in )?(?:medication|reliance|dependence)")
        within = self.treatment_pattern(item) if item else None
        score = self._score_trend()
        f = self.polar(key, pos, neg, within=within) if within else Fact(key=key)
        if not f.known:
            f = self.polar(key, pos, neg, exclude=self._other_treatments(item) if item else None)
        if score is not None:
            change, s = score
            if change <= -10 and f.status != "absent":
                return Fact(key=key, status="present", value=change, span=s.span(), note=f"the disability score improved by {-change:g} points ({s.text[:120]})")
            if abs(change) < 10 and f.status != "present":
                return Fact(key=key, status="absent", value=change, span=s.span(), note=f"no functional improvement: the disability score changed by only {change:+g} points ({s.text[:120]})")
        return f

    def _score_trend(self) -> tuple[float, Sentence] | None:
        """Change in a disability score (Oswestry/ODI/NDI/DASH %): the newest value against the earlier ones
        the same sentence lists ("Oswestry 22% (08/2016); 24% (02/2016); 58% at intake")."""
        for s, m in self.search(r"(?:oswestry|odi|disability index|\bndi\b|\bdash\b)[^.]{0,20}?(\d{1,3})\s*%"):
            tail = s.text[m.start():]
            values = [float(v) for v in re.findall(r"(\d{1,3})\s*%", tail)][:6]
            if len(values) < 2:
                continue
            low = tail.lower()
            if re.search(r"(improved|decreased|down|reduced|increased|up|worse\w*|went) from \d{1,3}\s*%? to", low):
                before, now = values[0], values[1]
                return now - before, s
            now, earlier = values[0], values[1:]
            diffs = [now - v for v in earlier]
            return (min(diffs) if min(diffs) <= -10 else max(diffs, key=abs)), s
        return None

    # -- case-level facts --------------------------------------------------------------------
    def daily_mme(self) -> Fact:
        for s, m in self.search(r"\b(?:med|mme|morphine (?:milligram )?equivalents?|morphine equivalent dose)\b[^.\d]{0,30}(\d{2,4}(?:\.\d+)?)"):
            return Fact(key="daily_mme", status="present", value=float(m.group(1)), span=s.span())
        for s, m in self.search(r"(\d{2,4}(?:\.\d+)?)\s*(?:mg\s*)?(?:med|mme|morphine (?:milligram )?equivalents?)\b"):
            return Fact(key="daily_mme", status="present", value=float(m.group(1)), span=s.span())
        return Fact(key="daily_mme")

    def symptom_weeks(self) -> Fact:
        for s, m in self.search(r"(?:doi|date of injury|injured on|injury date)\s*:?\s*(\d{1,2}/\d{1,2}/\d{2,4})"):
            doi = parse_us_date(m.group(1))
            if doi and self.request_date:
                return Fact(key="symptom_duration_weeks", status="present", value=round((self.request_date - doi).days / 7, 1), span=s.span())
        for s, m in self.search(rf"(?:symptoms?|pain)[^.]{{0,60}}(?:for|x|over|about|approximately)\s+{NUM}\s*(weeks?|months?|years?)"):
            return Fact(key="symptom_duration_weeks", status="present", value=to_num(m.group(1)) * {"w": 1, "m": 4.3, "y": 52}[m.group(2)[0]], span=s.span())
        return Fact(key="symptom_duration_weeks")

    def find(self, key: str, item: ParsedItem | None = None) -> Fact:
        """The fact named `key` (a key of drafter.corpus.schema.FACTS)."""
        fn = _EXTRACTORS.get(key)
        if fn is None:
            return Fact(key=key, note="no extractor for this fact yet")
        fact = fn(self, item)
        fact.key = key
        return fact


def _loose_date(s: str) -> dt.date | None:
    s = s.strip()
    if re.fullmatch(r"\d{4}", s):
        return dt.date(int(s), 7, 1)
    m = re.fullmatch(r"(\d{1,2})/(\d{2,4})", s)
    if m:
        y = int(m.group(2))
        return dt.date(y + 2000 if y < 100 else y, int(m.group(1)), 15)
    return parse_us_date(s)


def _polar(pos: str, neg: str | None = None, prefer: str = "absent") -> Callable[[FactFinder, ParsedItem | None], Fact]:
    return lambda ff, item: ff.polar("", pos, neg, prefer=prefer)


_EXTRACTORS: dict[str, Callable[[FactFinder, ParsedItem | None], Fact]] = {
    "functional_improvement": lambda ff, item: ff.functional_improvement(item),
    "prior_visits_completed": lambda ff, item: ff.prior_visits(item) if item else Fact(key=""),
    "postsurgical_visits_completed": lambda ff, item: ff.prior_visits(item) if item else Fact(key=""),
    "duration_of_use_weeks": lambda ff, item: ff.duration_of_use(item) if item else Fact(key=""),
    "daily_mme": lambda ff, item: ff.daily_mme(),
    "symptom_duration_weeks": lambda ff, item: ff.symptom_weeks(),
    "home_exercise_program": _polar(r"home exercise|\bhep\b|home (?:stretching|program)|exercises? (?:at|on (?:his|her) own at) home",
                                    r"(?:not|never|does not|doesn't|no) (?:doing|do|perform\w*|compliant with)[^.]{0,20}(?:home exercise|hep)", prefer="present"),
    "objective_deficits": _polar(r"(?:decreased|limited|reduced|restricted|loss of|painful)\s+(?:range of motion|rom\b|strength|motion|flexion|extension|rotation|abduction|grip|mobility)"
                                 r"|\b[0-4](?:\+|-)?/5\b|weakness|hypomobility|guarding|antalgic|flexion \d+ ?deg|abduction \d+|tenderness",
                                 r"full (?:and painless )?(?:range of motion|rom)[^.]{0,30}(?:strength|5/5)|normal (?:examination|exam)|no (?:objective )?deficits", prefer="present"),
    "radiculopathy_on_exam": _polar(r"(?:straight leg rais\w*|slr|spurling\w*)[^.]{0,20}positive|positive (?:straight leg|slr|spurling)"
                                    r"|(?:decreased|diminished|reduced|absent) (?:sensation|reflex\w*|achilles|patellar|biceps|triceps)[^.]{0,60}"
                                    r"|dermatom\w*|radiculopathy",
                                    r"(?:straight leg rais\w*|slr)[^.]{0,20}negative|negative (?:straight leg|slr)|no radicul\w*|sensation (?:is )?intact", prefer="present"),
    "specific_nerve_compromise": _polar(r"(?:decreased|diminished|reduced|absent) (?:sensation|reflex\w*|achilles|patellar)[^.]{0,60}|dermatom\w*|\b[0-4]/5\b[^.]{0,40}(?:ehl|dorsiflex|plantar|quad|hip|ankle)",
                                        r"(?:neurologic(?:al)? (?:exam|examination) (?:is |was )?(?:normal|intact|non-?focal))|sensation (?:is )?intact|reflexes (?:are )?(?:2\+ and )?symmetric", prefer="present"),
    "imaging_or_electrodiagnostic_corroboration": _polar(
        r"(?:mri|ct|emg|electrodiagnostic|nerve conduction|ncs)[^.]{0,120}(?:compress\w*|impinge\w*|contact\w*|displac\w*|abut\w*|stenosis|radiculopathy|"
        r"herniat\w*|extrusion|protrusion|entrapment|slowing|prolonged|carpal tunnel)",
        r"(?:mri|emg|ncs|electrodiagnostic)[^.]{0,60}(?:normal|unremarkable|no (?:evidence|nerve|neural))"),
    "conservative_care_failed": _polar(
        r"fail\w*[^.]{0,60}(?:conservative|therapy|pt\b|physical therapy|medication|treatment|splint\w*|injection)|(?:despite|after)[^.]{0,80}(?:therapy|pt\b|medication|treatment|splint\w*|injection|visits)"
        r"|no (?:meaningful |significant |lasting )?(?:relief|change|improvement)[^.]{0,40}(?:with|from|despite|after)|(?:conservative care|conservative treatment)[^.]{0,30}(?:to date|included)",
        None, prefer="present"),
    "red_flags": _polar(r"red flag|cauda equina|saddle an\w*|bowel or bladder (?:dysfunction|incontinence|retention)|progressive (?:neurologic\w* )?(?:deficit|weakness)|fracture|tumou?r|malignan\w*|infection|fever",
                        r"no red flags|denies[^.]{0,80}(?:bowel|bladder|fever|saddle)|no (?:bowel|bladder|saddle)"),
    "surgery_considered": _polar(r"surg\w* (?:is |was )?(?:being )?(?:considered|planned|candidate|an option|recommended)|surgical (?:consult\w*|referral|candidate|option)|would consider surgery|candidate for surgery",
                                 r"(?:not|no) (?:a )?(?:surgical )?candidate|surgical referral is not|(?:does not|doesn't|won't|will not|would not) (?:want|consider|have)[^.]{0,20}surgery|declines surgery|wishes to avoid surgery|not (?:considering|interested in) surgery"),
    "gi_risk_factors": _polar(r"(?:history of|hx of|prior)[^.]{0,30}(?:gi bleed\w*|gastrointestinal bleed\w*|peptic ulcer|ulcer|perforation)|anticoagul\w*|warfarin|coumadin|eliquis|xarelto|aspirin|prednisone|corticosteroid|\bage (?:6[6-9]|[7-9]\d)\b|\b(?:6[6-9]|[7-9]\d)[- ]year[- ]old",
                              r"(?:no|denies)[^.]{0,40}(?:gi|gastrointestinal|ulcer|bleed|dyspepsia|gerd|heartburn|stomach)|no gi risk"),
    "first_line_therapy_failed": _polar(r"(?:tried|failed|trial of|intoleran\w* (?:to|of))[^.]{0,60}(?:gabapentin|neurontin|pregabalin|lyrica|amitriptyline|nortriptyline|duloxetine|cymbalta|antidepressant|anticonvulsant|first[- ]line)",
                                        r"(?:no|not|never)[^.]{0,30}(?:tried|trial of|taken|prescribed)[^.]{0,60}(?:gabapentin|antidepressant|anticonvulsant|first[- ]line|amitriptyline|pregabalin)"
                                        r"|(?:discuss\w*|consider\w*|offered|recommend\w*|declin\w*|plan\w*)[^.]{0,30}(?:a )?trial of[^.]{0,40}(?:gabapentin|antidepressant|anticonvulsant|amitriptyline|nortriptyline|pregabalin|duloxetine)"),
    "neuropathic_pain": _polar(r"neuropath\w*|radicul\w*|crps|complex regional|burning|dysesthes\w*|allodynia|neuralgia|nerve pain",
                               r"no (?:neuropathic|radicular)|no radiation|denies[^.]{0,40}(?:radiat\w*|numbness)", prefer="present"),
    "four_as_documented": lambda ff, item: _four_as(ff),
    "pain_score_change": _polar(r"\d{1,2}/10 to \d{1,2}/10|(?:from|was) \d{1,2}/10[^.]{0,30}(?:to|now) \d{1,2}/10|(?:\d{1,2}/10)[^.]{0,60}(?:with(?:out)?|on|off) (?:the )?(?:medication|meds|norco|opioid|it)|(?:with(?:out)?|on|off) (?:the )?(?:medication|meds)[^.]{0,40}\d{1,2}/10"
                                r"|pain (?:decreas\w*|reduc\w*|improv\w*|drops?) from \d{1,2}/10|\d{1,3}% (?:pain )?(?:relief|reduction|improvement)",
                                r"(?:no|not)[^.]{0,20}(?:change|difference|improvement) in pain|pain (?:remains|is unchanged|unchanged)"),
    "urine_drug_screen": _polar(r"(?:urine drug|uds|urine tox\w*|drug screen)[^.]{0,80}(?:consistent|appropriate|negative for|positive for|performed|done|results?)",
                                r"(?:urine drug|uds)[^.]{0,40}(?:inconsistent|not (?:done|performed)|never)|no (?:recent )?(?:urine drug|uds)", prefer="present"),
    "opioid_agreement": _polar(r"(?:opioid|pain|narcotic|medication) (?:treatment )?(?:agreement|contract)|cures (?:report|checked|reviewed|was run)",
                               r"no (?:signed )?(?:opioid |pain )?(?:agreement|contract)"),
    "return_to_work": _polar(r"return\w* to (?:full|modified|regular|usual|light)? ?(?:duty|work)|working (?:full|modified|regular|light)? ?duty|is working|currently working|back at work"
                             r"|(?:continues|continuing|able) to work|works? (?:full|modified|regular|light) duty|on (?:full|modified|regular|light) duty",
                             r"(?:not|never) (?:returned|working|back)|off work|temporar\w* total\w* disab\w*|\bttd\b|unable to work", prefer="present"),
    "work_status": _polar(r"(?:work status|working|modified duty|full duty|ttd|temporar\w* total\w* disab\w*|off work)"),
    "acute_exacerbation": _polar(r"(?:acute|recent|new)[^.]{0,20}(?:exacerbation|flare\w*|spasm\w*|injury)|flare[- ]?up|exacerbation",
                                 r"no (?:new injury|recent flare|acute exacerbation|flare)|(?:the same as always|steady|chronic,? stable)"),
    "compounded_ingredients": lambda ff, item: Fact(key="", status="present" if item and item.category == "topicals" else "unknown",
                                                    value=item.raw if item else None, note=f"the product requested: {item.raw}" if item else ""),
    "homebound": _polar(r"\bhomebound\b|confined to (?:the )?home|bed-?bound|unable to leave (?:the )?home",
                        r"not homebound|(?:drives|driving|walks|ambulat\w*)[^.]{0,40}(?:independent\w*|to (?:the )?(?:store|clinic|appointments|church))|leaves (?:the )?home|attends appointments"),
    "medical_treatment_needed_at_home": _polar(r"wound care|dressing changes?|injections?|infusion|catheter|skilled nursing|medication management by (?:a )?nurse|physical therapy at home",
                                               r"(?:housekeeping|homemaker|cleaning|cooking|laundry|shopping|meal preparation|errands|bathing|dressing|personal care|chores)"),
    "hours_per_week": lambda ff, item: _hours_per_week(item),
    "adjunct_to_functional_restoration": _polar(r"(?:home exercise|\bhep\b|exercise program|physical therapy|functional restoration|active (?:therapy|program)|core program)[^.]{0,80}(?:continu\w*|daily|adjunct|along with|with)|adjunct|in conjunction with",
                                                r"(?:no|not (?:doing|in|participating))[^.]{0,30}(?:exercise|therapy|program)|sole (?:treatment|modality)|stand-?alone", prefer="present"),
    "trial_completed": _polar(r"(?:one|1)[- ]month (?:home )?trial[^.]{0,80}(?:completed|documented|reduced|improved|results?)|trial[^.]{0,40}(?:completed|successful|documented)|after (?:a|the) (?:30-day|one-month|1-month) trial",
                              r"no (?:prior |previous )?(?:trial|tens trial)|has not (?:had|completed) a trial|without a trial|never (?:used|tried) (?:a )?tens"),
    "psychological_evaluation": _polar(r"psycholog\w* (?:evaluation|eval|assessment|screening|testing)|bdi|beck depression|mmpi|appropriate candidate",
                                       r"no psycholog\w* (?:evaluation|assessment)"),
    "baseline_functional_testing": _polar(r"baseline[^.]{0,40}(?:testing|functional|performance|evaluation|measures)|functional capacity evaluation|physical performance testing"),
    "motivation_to_change": _polar(r"motivat\w*|willing\w* to|committed to|wants to return|goal (?:is|of) return\w*",
                                   r"(?:not|un)motivated|not willing|unwilling|no interest"),
    "negative_predictors_addressed": _polar(r"negative predictors?[^.]{0,40}(?:addressed|identified)|(?:depression|fear[- ]avoidance|opioid use|taper\w*)[^.]{0,40}(?:addressed|treated|managed|supervised)|supervised (?:hydrocodone |opioid )?taper"),
    "previous_methods_unsuccessful": _polar(r"(?:failed|exhausted|unsuccessful|no (?:lasting )?benefit from)[^.]{0,80}(?:treatment|therapy|pt|chiropractic|acupuncture|injections?|medications?|conservative)|(?:previous|prior) (?:methods|treatments?)[^.]{0,40}(?:unsuccessful|failed)"),
    "not_surgical_candidate": _polar(r"\bnot (?:a )?(?:surgical )?candidate|non-?surgical|no surgical (?:lesion|indication|option)|declines surgery|surgery (?:is )?not (?:recommended|indicated)",
                                     r"surgery (?:is )?(?:recommended|planned|scheduled)|(?<!not a )(?<!not )surgical candidate", prefer="present"),
    "job_demands_identified": _polar(r"(?:job|position|work)[^.]{0,40}(?:to return to|offered|available|held open|waiting)|return[- ]to[- ]work (?:goal|plan)|job (?:description|demands|analysis)|employer (?:will|can|has) (?:accommodate|offered)",
                                     r"no (?:job|position|employer)[^.]{0,30}(?:to return|available)|(?:terminated|laid off|position (?:was )?(?:eliminated|filled))|no (?:specific )?(?:job|return[- ]to[- ]work) (?:goal|plan)"),
    "trigger_points_palpated": _polar(r"trigger points?[^.]{0,80}(?:twitch|referred pain|taut band)|twitch response|taut band",
                                      r"no (?:discrete )?trigger points?|(?:no|without) (?:a )?twitch|diffuse tenderness"),
    "mechanical_symptoms": _polar(r"lock\w*|catch\w*|giving way|gives way|buckl\w*|mcmurray\w*[^.]{0,20}positive|positive mcmurray",
                                  r"no (?:locking|catching|mechanical)|denies[^.]{0,30}(?:locking|catching)|mcmurray\w*[^.]{0,20}negative", prefer="present"),
    "instability": _polar(r"instabilit\w*|lachman[^.]{0,20}positive|positive (?:lachman|anterior drawer|pivot)|apprehension[^.]{0,20}positive",
                          r"stable (?:to|on) (?:varus|valgus)|no instability|lachman[^.]{0,20}negative"),
    "reduced_weight_bearing_desirable": _polar(r"\bbmi\s*(?:of\s*)?(?:3[5-9]|[4-9]\d)|morbid\w* obes\w*|extreme obesity|reduced weight[- ]bearing|non-?weight[- ]bearing|cannot tolerate (?:land|weight)"),
    "neurologic_deficit": _polar(r"(?:decreased|diminished|reduced|absent|altered) (?:sensation|reflex\w*|strength)|\b[0-4]/5\b|numbness|weakness|paresthes\w*",
                                 r"neurologic(?:al)? (?:exam|examination) (?:is |was )?(?:normal|intact|non-?focal)", prefer="present"),
    "diagnosis_uncertain": _polar(r"(?:diagnosis|etiology|cause)[^.]{0,30}(?:unclear|uncertain|not clear|unknown)|rule out|r/o|equivocal|differentiat\w*|versus|\bvs\b", prefer="present"),
    "intolerance_to_oral_medication": _polar(r"(?:intoleran\w*|cannot tolerate|could not tolerate|side effects?|gastritis|nausea)[^.]{0,40}(?:medication|nsaid|opioid|pills|oral)|reduc\w* (?:pain )?medication|wants to (?:reduce|avoid) medication",
                                             r"tolerat\w* (?:the )?medications? well|no side effects"),
    "prior_injection_relief": _polar(r"\d{2,3}\s*%[^.]{0,40}(?:relief|improvement|reduction)[^.]{0,60}(?:injection|block|esi)|(?:injection|block|esi)[^.]{0,80}\d{2,3}\s*%",
                                     r"no prior (?:spinal )?injections?|no (?:relief|benefit) (?:from|after) (?:the )?(?:injection|block)"),
    "surgery_type": _polar(r"s/p|status post|post-?op\w*|underwent|total knee|arthroplasty|release|repair|arthroscop\w*|fusion|discectomy"),
    "surgery_date": _polar(r"(?:surgery|s/p|status post|underwent|performed)[^.]{0,60}\d{1,2}/\d{1,2}/\d{2,4}|(?:surgery|operation) (?:date|on)"),
    "imaging_findings": _polar(r"(?:mri|x-?rays?|ct|ultrasound|imaging)[^.]{0,80}(?:shows?|showed|demonstrat\w*|reveal\w*|impression|tear|tendinosis|impingement|arthrosis|spur)"),
    "prior_imaging": _polar(r"(?:prior|previous|recent)[^.]{0,20}(?:mri|x-?rays?|ct|imaging)|(?:mri|x-?rays?|ct)[^.]{0,20}(?:dated|on|from) \d{1,2}/"),
    "date_of_injury": _polar(r"(?:doi|date of injury)\s*:?\s*\d{1,2}/\d{1,2}/\d{2,4}"),
    "request_date": lambda ff, item: Fact(key="", status="present" if ff.request_date else "unknown", value=str(ff.request_date) if ff.request_date else None),
    "insomnia_evaluated": _polar(r"sleep hygiene|insomnia[^.]{0,40}(?:evaluat\w*|cause)"),
    "supervised_therapy_required": _polar(r"(?:requires|needs|cannot)[^.]{0,30}supervis\w*|unable to (?:do|perform) (?:the )?exercises? (?:on (?:his|her) own|independently)"),
    "spasticity_or_dystonia": _polar(r"spasticity|dystonia|torticollis|spinal cord injury|multiple sclerosis"),
    "age": lambda ff, item: _age(ff),
}


def _four_as(ff: FactFinder) -> Fact:
    """Present when the records cover analgesia, activities, adverse effects and aberrant behaviour monitoring."""
    parts = {
        "analgesia": r"\d{1,2}/10|pain (?:relief|score|level)",
        "activities": r"adls?|activities of daily living|function\w*|able to",
        "adverse effects": r"side effects?|adverse|constipation|drowsi\w*|sedation|nausea",
        "aberrant behaviour": r"aberrant|cures|urine drug|uds|pill count|early refill|agreement|contract",
    }
    found = {name: ff.search(p) for name, p in parts.items()}
    missing = [n for n, hits in found.items() if not hits]
    first = next((hits[0][0] for hits in found.values() if hits), None)
    if not missing:
        return Fact(key="", status="present", span=first.span() if first else None, note="all four domains are addressed")
    if len(missing) <= 2 and first:
        return Fact(key="", status="absent", span=first.span(), note="not documented: " + ", ".join(missing))
    return Fact(key="", note="not documented: " + ", ".join(missing))


def _hours_per_week(item: ParsedItem | None) -> Fact:
    if item and item.hours_per_day:
        days = item.days_per_week or 7
        return Fact(key="", status="present", value=item.hours_per_day * days, note="from the item string")
    return Fact(key="")


def _age(ff: FactFinder) -> Fact:
    for s, m in ff.search(r"\b(\d{2})[- ]year[- ]old|\bage:?\s*(\d{2})\b"):
        return Fact(key="", status="present", value=int(m.group(1) or m.group(2)), span=s.span())
    return Fact(key="")
