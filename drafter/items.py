"""Disputed-item parsing: category, treatment, drug, quantities, body regions, laterality.

"Additional Physical Therapy 3 x 4 to the Cervical/Lumbar Spine" -> physical therapy, 12 visits
(3 a week for 4 weeks), regions [cervical, lumbar]. "Norco 10/325mg #120" -> medication,
hydrocodone/acetaminophen (brand norco), strength 10/325mg, count 120, category opioids.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, Field

from drafter.errors import ConfigError

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "sixty": 60, "ninety": 90, "hundred twenty": 120, "one hundred twenty": 120, "one hundred": 100,
}

# (treatment, category, pattern). First match wins, so specific names come before general ones.
_TREATMENTS: list[tuple[str, str, str]] = [
    ("urine drug screen", "diagnostics", r"\b(urine (drug|tox\w*)|uds|drug (screen|test)|toxicology)\b"),
    ("functional capacity evaluation", "diagnostics", r"\b(functional capacity (evaluation|eval|exam)|fce)\b"),
    ("functional restoration program", "programs", r"\b(functional restoration|frp|chronic pain (management )?program|hcpp|multidisciplinary pain)\b"),
    ("work hardening", "programs", r"\bwork (hardening|conditioning)\b"),
    ("psychological evaluation", "psychological", r"\b(psych\w*\s+(eval\w*|consult\w*|testing)|psychological|psychiatric eval\w*)\b"),
    ("cognitive behavioral therapy", "psychological", r"\b(cbt|cognitive behavio\w*|psychotherapy|biofeedback)\b"),
    ("epidural steroid injection", "injections", r"\b(epidural|[clt]?esi|tfesi|ilesi|caudal)\b"),
    ("facet injection", "injections", r"\b(facet|medial branch|mbb|radiofrequency|rfa|rhizotomy|neurotomy|sacroiliac|si joint)\b"),
    ("trigger point injection", "injections", r"\b(trigger point|tpi)s?\b"),
    ("viscosupplementation", "injections", r"\b(synvisc\w*|hyalgan|euflexxa|orthovisc|supartz|gel-?one|monovisc|durolane|gelsyn\w*|visco\w*|hyaluron\w*)\b"),
    ("joint steroid injection", "injections", r"\b((cortisone|corticosteroid|steroid|kenalog|depo-?medrol|triamcinolone)\s+(injections?|shots?)|intra-?articular\s+(\w+\s+)?injections?|subacromial\s+(\w+\s+)?injections?|(knee|shoulder|hip) joint injections?)\b"),
    ("botox injection", "injections", r"\b(botox|botulinum)\b"),
    ("spinal cord stimulator", "surgery", r"\b(spinal cord stim\w*|scs)\b"),
    ("emg/ncv", "diagnostics", r"\b(emg|ncv|ncs|nerve conduction|electromyogra\w*|electrodiagnostic)\b"),
    ("mri", "diagnostics", r"\b(mri|mra|magnetic resonance|mr arthrogra\w*)\b"),
    ("ct", "diagnostics", r"\b(ct|cat scan|computed tomography|myelogra\w*)\b"),
    ("x-ray", "diagnostics", r"\b(x-?rays?|radiographs?|xr)\b"),
    ("tens", "dme", r"\b(tens)\b|transcutaneous"),
    ("h-wave", "dme", r"\bh-?wave\b"),
    ("interferential", "dme", r"\b(interferential|if unit|ics)\b"),
    ("hot/cold therapy", "dme", r"\b(hot/cold|cold therapy|cryotherapy|game ready|vascutherm|polar care|ice unit|heat(ing)? pad|cold unit)\b"),
    ("brace", "dme", r"\b(braces?|lso|tlso|orthos[ie]s|splints?|supports?|collars?|orthotics?)\b"),
    ("durable medical equipment", "dme", r"\b(dme|cane|walker|wheelchair|scooter|traction|bed|cushion|pillow|commode|shower chair|exercise kit|home exercise kit|bands?)\b"),
    ("aquatic therapy", "rehabilitation", r"\b(aqua\w*|pool therapy|water therapy|hydrotherapy)\b"),
    ("chiropractic", "rehabilitation", r"\b(chiro\w*|manipulation|cmt|manual therapy)\b"),
    ("acupuncture", "rehabilitation", r"\b(acupuncture|electroacupuncture|acup)\b"),
    ("massage therapy", "rehabilitation", r"\bmassage\b"),
    ("occupational therapy", "rehabilitation", r"\b(occupational therapy|ot|hand therapy)\b"),
    ("physical therapy", "rehabilitation", r"\b(physical therapy|physiotherapy|pt|p\.t\.|physical medicine|therapeutic exercise)\b"),
    ("home health", "home_health", r"\b(home health|home care|hha|caregiver|home assistance|home nursing|homemaker|attendant care)\b"),
    ("consultation", "evaluation_management", r"\b(consult\w*|referral|evaluation and treatment|second opinion|specialist)\b"),
    ("follow-up visit", "evaluation_management", r"\b(follow[- ]?up|office visit|re-?evaluation)\b"),
    ("surgery", "surgery", r"\b(acdf|tka|tha|plif|tlif|alif|ctr|surgery|surgical|arthroscop\w*|arthroplasty|replacement|fusion|discectomy|laminectomy|"
     r"decompression|release|repair|reconstruction|meniscectomy|acromioplasty|orif|-ectomy|ectomy|plasty|"
     r"\w+ectomy|\w+otomy|\w+plasty)\b"),
]


@lru_cache(maxsize=1)
def regions() -> dict:
    """Body regions: `patterns` (name -> regex) and `related` (name -> regions whose findings speak for it)."""
    data = yaml.safe_load(resources.files("drafter.data").joinpath("regions.yaml").read_text(encoding="utf-8"))
    unknown = {r for rel in data["related"].values() for r in rel} - set(data["patterns"])
    if unknown or set(data["related"]) != set(data["patterns"]):
        raise ConfigError(f"drafter/data/regions.yaml: every region needs a pattern and a `related` list naming regions "
                          f"that have patterns (check {sorted(unknown) or sorted(set(data['patterns']) ^ set(data['related']))}).")
    return data


class ParsedItem(BaseModel):
    """What an item string says, field by field; None where the string does not say."""

    raw: str
    category: str = "unknown"
    treatment: str = "unknown"
    generic: str | None = None
    brand: str | None = None
    strength: str | None = None
    count: int | None = None
    refills: int | None = None
    visits: int | None = None
    frequency_per_week: float | None = None
    duration_weeks: float | None = None
    rental_days: int | None = None
    hours_per_day: float | None = None
    days_per_week: float | None = None
    total_hours: float | None = None
    body_regions: list[str] = Field(default_factory=list)
    laterality: str | None = None
    post_op: bool = False
    retrospective: bool = False

    @property
    def search_text(self) -> str:
        """The item as retrieval should see it: the raw string plus the normalized names."""
        extra = [x for x in (self.generic, self.treatment if self.treatment not in ("unknown", "medication") else None) if x]
        return f"{self.raw} ({'; '.join(extra)})" if extra else self.raw


@lru_cache(maxsize=1)
def drug_table() -> dict[str, tuple[str, str, bool]]:
    """name (generic, alias or brand, lower case) -> (generic, category, is_brand), longest names first."""
    data = yaml.safe_load(resources.files("drafter.data").joinpath("drugs.yaml").read_text(encoding="utf-8"))
    table: dict[str, tuple[str, str, bool]] = {}
    for generic, info in data.items():
        table[generic] = (generic, info["category"], False)
        for alias in info.get("aliases", []):
            table[str(alias).lower()] = (generic, info["category"], False)
        for brand in info.get("brands", []):
            table[str(brand).lower()] = (generic, info["category"], True)
    return dict(sorted(table.items(), key=lambda kv: -len(kv[0])))


@lru_cache(maxsize=1)
def compound_products() -> dict[str, dict]:
    """Branded topical product (lower case) -> its ingredients and per-form ingredients (drafter/data/compound_products.yaml)."""
    return yaml.safe_load(resources.files("drafter.data").joinpath("compound_products.yaml").read_text(encoding="utf-8"))


def product_ingredients(raw: str) -> tuple[str, list[str]] | None:
    """(brand, ingredients) of the branded topical product a request names ("Terocin patches #20" -> lidocaine, menthol),
    or None when it names none."""
    low = raw.lower()
    for brand, info in compound_products().items():
        if re.search(rf"(?<![a-z]){re.escape(brand)}(?![a-z])", low):
            form = next((f for f in info.get("forms", {}) if re.search(rf"(?<![a-z]){f}", low)), None)
            return brand, list(info["forms"][form] if form else info["ingredients"])
    return None


_TOPICAL_FORM = r"\b(cream|gel|lotion|ointment|patch(es)?|topical|transdermal|compound\w*|liniment|spray)\b"


def _num(s: str) -> float:
    s = s.lower().strip()
    return float(_WORD_NUMBERS[s]) if s in _WORD_NUMBERS else float(s)


def _int(x: float | None) -> int | None:
    return None if x is None else int(round(x))


def _find_drugs(low: str) -> list[tuple[int, str, str, str | None]]:
    """(position, generic, category, brand) for each distinct drug the text names, in order of appearance."""
    found: dict[str, tuple[int, str, str, str | None]] = {}
    taken: list[tuple[int, int]] = []
    for name, (generic, category, is_brand) in drug_table().items():
        if name not in low:  # the pattern is the literal name: skip ~300 regex scans per item
            continue
        for m in re.finditer(rf"(?<![a-z]){re.escape(name)}(?![a-z])", low):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            if generic not in found or m.start() < found[generic][0]:
                found[generic] = (m.start(), generic, category, name if is_brand else None)
    if not found:
        from rapidfuzz import fuzz

        for w in re.finditer(r"[a-z]{5,}", low):
            for name, (generic, category, is_brand) in drug_table().items():
                if " " not in name and "/" not in name and len(name) >= 5 and fuzz.ratio(name, w.group(0)) >= 85:
                    found.setdefault(generic, (w.start(), generic, category, name if is_brand else None))
                    break
    return sorted(found.values())


def parse_item(raw: str) -> ParsedItem:
    """Parse one disputed-item string. Never raises on odd text: unknown parts stay None."""
    text = " ".join(raw.split())
    low = text.lower()
    item = ParsedItem(raw=text)
    item.post_op = bool(re.search(r"\b(post[- ]?op\w*|postsurgical|post[- ]surgical|s/p)\b", low))
    item.retrospective = bool(re.search(r"\bretro(spective)?\b", low))

    low = re.sub(r"(?<=[a-z])-(?=(?:acetaminophen|apap|naloxone)\b)", "/", low)
    drugs = _find_drugs(low)
    topical = bool(re.search(_TOPICAL_FORM, low))
    compound = any(d[1] == "compound" for d in drugs) or (topical and len(drugs) > 1) or (
        not drugs and re.search(r"\b(compound\w*|cream)\b", low) is not None
    )
    if drugs or compound:
        item.treatment = "medication"
        if compound:
            item.generic, item.category = "compound", "topicals"
            item.brand = next((d[3] for d in drugs if d[1] == "compound"), None)
        else:
            _, item.generic, item.category, item.brand = drugs[0]
            if topical and item.generic not in ("fentanyl", "buprenorphine", "lidocaine"):
                item.category = "topicals"
        m = re.search(r"(\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)*)\s*(mg|mcg|%)(\s*/\s*(?:hr|h|hour))?(?![a-z])", low)
        if m and not compound:
            item.strength = re.sub(r"\s+", "", m.group(0)).replace("/hour", "/hr").replace("/h", "/hr").replace("/hrr", "/hr")
        elif not compound:
            m = re.search(r"(?<![#\d.])(\d+(?:\.\d+)?/\d+(?:\.\d+)?)(?![\d/])", low)
            item.strength = m.group(1) if m else None
        m = (re.search(r"\b(?:qty|quantity|count)\s*:?\s*#?\s*(\d+)\b", low)
             or re.search(r"#\s*(\d+)\b(?!\s*(?:days?|weeks?|refills?))(?<!tylenol #3)", low)
             or re.search(r"(?<![a-z])x\s*(\d+)\b(?!\s*(?:days?|weeks?|months?|refills?|/|\.))", low)
             or re.search(r"\b(\d+)\s*(?:tablets|tabs|capsules|caps|patches|pills|count|tubes)\b", low))
        if m and not (low.startswith("tylenol #3") and m.group(0).strip() == "#3"):
            item.count = int(m.group(1))
        else:
            m = re.search(r"\b(" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")\s+(count|tablets|capsules|patches)\b", low)
            if m:
                item.count = int(_num(m.group(1)))
        m = re.search(r"(\d+|" + "|".join(_WORD_NUMBERS) + r")\s*refills?|refills?\s*:?\s*(?:x\s*)?(\d+)|\brf\s*x?\s*(\d+)", low)
        if m:
            item.refills = int(_num(next(g for g in m.groups() if g)))
        if item.brand:
            item.brand = re.sub(r"\s+(er|ds|xr|cr|ir|hcl|sodium|patch(es)?|gel|odt)$", "", item.brand)
    else:
        item.treatment, item.category = _match_treatment(low)

    low = re.sub(r"\b(?:" + "|".join(_WORD_NUMBERS) + r")\s*\((\d+)\)", r"\1", low)  # "eight (8)" -> "8"
    # frequency x duration: "3 x 4", "3x4", "3x/week x 4 weeks", "two times a week for six weeks"
    num = r"(\d+(?:\.\d+)?|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")"
    m = re.search(rf"\b{num}\s*(?:x|times?)\s*(?:(?:/|a|per|each)\s*)?(?:w(?:ee)?k\w*\s*)?(?:x|for)?\s*{num}\b(?!\s*(?:months?|mo\b|days?|hours?|hrs?|%|mg))", low)
    if m and item.treatment != "medication" and not re.search(r"\b(month|monthly)\b", low[: m.end() + 12]):
        item.frequency_per_week, item.duration_weeks = _num(m.group(1)), _num(m.group(2))
        item.visits = _int(item.frequency_per_week * item.duration_weeks)
    elif item.treatment != "medication":
        m = re.search(rf"\b{num}\s*(?:additional\s+|full[- ]day\s+)?(sessions?|visits?|treatments?|injections?)\b", low)
        if m:
            item.visits = _int(_num(m.group(1)))
        else:
            m = re.search(r"(?<![a-z])x\s*(\d+)\s*(days?)?\b(?!\s*(?:weeks?|months?|mo\b|hours?|hrs?))", low)
            if m and (item.category in ("rehabilitation", "programs", "psychological", "injections", "evaluation_management", "home_health")):
                if not m.group(2) or item.category == "programs":
                    item.visits = int(m.group(1))
    m = re.search(r"(?:rental|rent)\s*(?:x|for)?\s*(\d+)\s*(days?|weeks?|months?|mo)\b|(\d+)[- ]?(days?|weeks?|months?)[- ]+(?:home\s+)?rental", low)
    if m:
        n, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        item.rental_days = int(n) * {"d": 1, "w": 7, "m": 30}[unit[0]]
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:hours?|hrs?)\s*(?:/|a|per)\s*day", low)
    if m:
        item.hours_per_day = float(m.group(1))
    m = re.search(r"(\d+)\s*days?\s*(?:/|a|per)\s*w(?:ee)?k", low)
    if m:
        item.days_per_week = float(m.group(1))
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:hours?|hrs?)\b(?!\s*(?:/|a|per|each)\s*(?:day|d\b|w(?:ee)?k))", low)
    if m and item.hours_per_day is None:
        item.total_hours = float(m.group(1))
    if item.category == "home_health" and item.duration_weeks is None:
        m = re.search(r"(?:x|for)\s*(\d+)\s*w(?:ee)?ks?", low)
        if m:
            item.duration_weeks = float(m.group(1))

    pats = regions()["patterns"].items()
    found = [name for name, pat in sorted(pats, key=lambda rp: _first(rp[1], low)) if _first(pat, low) < len(low)]
    for level in re.findall(r"\b([ctl])\d{1,2}\b", low):
        name = {"c": "cervical", "t": "thoracic", "l": "lumbar"}[level]
        if name not in found:
            found.append(name)
    item.body_regions = found
    if re.search(r"\b(bilateral|bilat|both|b/l|bue|ble)\b", low):
        item.laterality = "bilateral"
    elif re.search(r"\b(left|lt|l)\b(?!\s*[-/]?\s*(?:spine|s\b|\d))", low):
        item.laterality = "left"
    elif re.search(r"\b(right|rt|r)\b(?!\s*[-/]?\s*\d)", low):
        item.laterality = "right"
    return item


_FUZZY_KEYWORDS = {"acupuncture": "acupuncture", "physical": "physical therapy", "chiropractic": "chiro",
                   "massage": "massage", "aquatic": "aquatic", "functional": "functional", "therapy": "therapy"}


def _match_treatment(low: str) -> tuple[str, str]:
    """(treatment, category) by the first matching pattern; retried once with typos corrected."""
    for treatment, category, pattern in _TREATMENTS:
        if re.search(pattern, low):
            return treatment, category
    from rapidfuzz import fuzz

    fixed = low
    for w in set(re.findall(r"[a-z]{6,}", low)):
        for key, repl in _FUZZY_KEYWORDS.items():
            if w != key and fuzz.ratio(w, key) >= 85:
                fixed = re.sub(rf"\b{w}\b", repl, fixed)
    if fixed != low:
        for treatment, category, pattern in _TREATMENTS:
            if re.search(pattern, fixed):
                return treatment, category
    if re.search(r"\b(genetic|lab(oratory)?|blood (test|work)|panel|testing)\b", low):
        return "unknown", "diagnostics"
    return "unknown", "unknown"


def _first(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    return m.start() if m else len(text)
