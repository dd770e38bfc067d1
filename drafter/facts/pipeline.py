"""The clinical NLP pipeline: medspaCy sentences (PyRuSH), sections (Sectionizer), fact phrases
(TargetMatcher) and their context (ConText: negated, historical, hypothetical, family, uncertain).

Every rule comes from data: the fact rule files (`rules/*.yaml`), the section headings and ConText cues
(`lexicon/sections.yaml`, `lexicon/context.yaml`). This module only assembles them.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from drafter.facts.schema import Evidence, FactRule, Pattern
from drafter.facts.medspacy_speed import speed_up

RULES_PACKAGE = "drafter.facts"
SPAN_GROUP = "facts"


def _data_dir(name: str) -> Path:
    return Path(str(resources.files(RULES_PACKAGE).joinpath(name)))


@lru_cache(maxsize=4)
def load_rules(rules_dir: str | None = None) -> dict[str, FactRule]:
    """Every fact rule file, validated; a bad file is an error that names it."""
    from drafter.errors import DrafterError

    folder = Path(rules_dir) if rules_dir else _data_dir("rules")
    out: dict[str, FactRule] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            rule = FactRule.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except Exception as exc:
            raise DrafterError(f"{path}: not a valid fact rule file ({exc}). Fix the file; see drafter/facts/schema.py.") from exc
        if rule.fact != path.stem:
            raise DrafterError(f"{path}: names fact {rule.fact!r}; the file must be named {rule.fact}.yaml.")
        if rule.below_norm:
            rule.present.extend(Pattern(regex=r, note="generated from rom_norms.yaml") for r in below_norm_patterns())
        out[rule.fact] = rule
    return out


def below_norm_patterns() -> list[str]:
    """One pattern per region and motion of rom_norms.yaml: the region, then within its clause the motion and a
    measured range under the deficit threshold ("Cervical AROM: flex 30", "R knee ... flexion 0-120")."""
    from drafter.errors import ConfigError
    from drafter.items import regions

    norms = load_lexicon("rom_norms")
    region_words = regions()["patterns"]
    side = r"(?:(?:r|l|rt|lt|right|left|bilat\w*|b/l)\.?\s*)?"
    filler = r"(?:(?:unchanged|measured|only|limited|improved|increased|decreased|now|still|about|approx\.?|~|at|to|of|is|was)\s*)*"
    out = []
    for region, motions in norms["normal"].items():
        unknown = ([region] if region not in region_words else []) + [m for m in motions if m not in norms["motions"]]
        if unknown:
            raise ConfigError(f"drafter/facts/lexicon/rom_norms.yaml: {unknown} is not a region of drafter/data/regions.yaml "
                              "or a motion listed under `motions`; name it there first.")
        for motion, normal in motions.items():
            below = int(normal * norms["deficit_below"] - 1e-9)  # strictly below the threshold
            numbers = "|".join(str(n) for n in range(below, -1, -1))
            out.append(rf"{region_words[region]}[^.;]{{0,60}}?{norms['motions'][motion]}\s*[:=]?\s*{filler}{side}"
                       rf"(?:0\s*(?:-|to)\s*)?(?:{numbers})(?![\d/.])(?!\s*(?:-|to)\s*\d)(?!\s*(?:lbs?|kg|%|x\b|times|reps|min|sec|visits?|sessions?))")
    return out


@lru_cache(maxsize=8)
def load_lexicon(name: str) -> dict:
    return yaml.safe_load(_data_dir("lexicon").joinpath(f"{name}.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Sentence:
    """One sentence of one document, with the section it sits in and the date it speaks for."""

    document: str
    index: int
    start: int
    end: int
    text: str
    section: str | None
    date: str | None  # ISO date
    # the record as written, where the rules read a rewritten text (number words as digits): start and end
    # in the document as it is, and the quote; by default the same as start, end and text
    record_start: int = -1
    record_end: int = -1
    quote: str = ""

    @property
    def span(self) -> tuple[int, int]:
        """Start and end in the document as written (`start` and `end` are offsets of the text the rules read)."""
        return (self.record_start, self.record_end) if self.record_start >= 0 else (self.start, self.end)

    def evidence(self) -> Evidence:
        if self.record_start >= 0:
            return Evidence(document=self.document, start=self.record_start, end=self.record_end, quote=self.quote,
                            section=self.section, date=self.date)
        return Evidence(document=self.document, start=self.start, end=self.end, quote=self.text, section=self.section, date=self.date)


@dataclass(frozen=True)
class Mention:
    """A fact phrase found in a sentence, with its reading before and after context."""

    fact: str
    polarity: str  # "present" or "absent": which rule list matched
    sentence: Sentence
    start: int  # character offsets in the document
    end: int
    text: str
    negated: bool
    historical: bool
    hypothetical: bool
    family: bool
    uncertain: bool

    @property
    def reading(self) -> str:
        """present/absent after negation: a negated present phrase documents absence."""
        if self.polarity == "present" and self.negated:
            return "absent"
        return self.polarity


def _quiet_loguru() -> None:
    """PyRuSH logs every token at DEBUG through loguru; logs must carry no case text."""
    try:
        from loguru import logger

        logger.disable("PyRuSH")
    except ImportError:  # pragma: no cover - loguru comes with PyRuSH
        pass


@lru_cache(maxsize=2)
def build_nlp(rules_dir: str | None = None):
    """The medspaCy pipeline with our sections, fact phrases and ConText cues (built once per process)."""
    _quiet_loguru()
    warnings.filterwarnings("ignore", message=r".*\[W036\]")  # ConText's empty token matcher: our cues are phrases
    import medspacy
    from medspacy.context import ConTextRule
    from medspacy.ner import TargetRule
    from medspacy.section_detection import SectionRule
    from spacy import util as spacy_util
    from spacy.language import Language

    if not Language.has_factory("drafter_sentence_fixes"):
        Language.component("drafter_sentence_fixes", func=_sentence_fixes)

    nlp = medspacy.load(medspacy_enable=["medspacy_pyrush"])
    # run-together sentences from PDF extraction ("the claim.In a Utilization Review Report"): split the token
    infixes = list(nlp.Defaults.infixes) + [r"(?<=[a-z0-9])\.(?=[A-Z][a-z])"]
    nlp.tokenizer.infix_finditer = spacy_util.compile_infix_regex(infixes).finditer
    nlp.add_pipe("drafter_sentence_fixes", after="medspacy_pyrush")
    sectionizer = nlp.add_pipe("medspacy_sectionizer", config={"rules": None, "input_span_type": None, "span_attrs": None})
    sectionizer.add([SectionRule(literal=h["literal"], category=h["category"], pattern=h.get("pattern"))
                     for h in load_lexicon("sections")["sections"]])
    matcher = nlp.add_pipe("medspacy_target_matcher", config={"result_type": "group", "span_group_name": SPAN_GROUP, "prune": False})
    rules = []
    for fact, rule in load_rules(rules_dir).items():
        for polarity in ("present", "absent"):
            for i, p in enumerate(getattr(rule, polarity)):
                # the label carries fact and polarity: medspaCy's rule lookup (span._.target_rule) can return
                # another rule's object when many regex rules are added, but the label is always the match's own
                rules.append(TargetRule(literal=f"{fact}|{polarity}|{i}", category=f"{fact}|{polarity}", pattern=p.regex))
    matcher.add(rules)
    speed_up(matcher)
    context = nlp.add_pipe("medspacy_context", config={"rules": None, "input_span_type": "group", "span_group_name": SPAN_GROUP})
    context.add([ConTextRule(literal=c["literal"], category=c["category"], direction=c.get("direction", "FORWARD"),
                             pattern=c.get("pattern"), max_scope=c.get("max_scope"))
                 for c in load_lexicon("context")["cues"]])
    speed_up(context)
    return nlp


_NOT_SENTENCE_END = {"sr", "sra", "srta", "jr", "dr", "mr", "mrs", "ms", "st", "vs", "no", "pt", "approx", "fig", "inc", "co",
                     "corp", "ltd", "dept", "univ", "ave", "blvd", "mt", "ft", "oz", "lb", "lbs"}
_TURN_WORDS = {"however", "but", "whereas", "although", "though", "yet"}
_REVIEWER_WORDS = {"reviewer", "ur", "utilization", "administrator", "adjuster", "carrier", "insurer", "peer", "physician-reviewer"}


def _opinion_turn(doc, tok) -> bool:
    """A UR letter often gives the treating records and the reviewer's view in one sentence ("Records show ...
    takes Norco with pain 8/10 to 5/10; however, the reviewer found no UDS"). The turn to the reviewer starts a
    sentence of its own, so the records' half is read and only the reviewer's half is set aside."""
    prev = doc[tok.i - 1]
    low = tok.text.lower()
    if prev.text in {";", ","} and low in _TURN_WORDS:
        ahead = doc[tok.i + 1: tok.i + 6]
    elif prev.text == ";" and low in {"the", "ur", "utilization", "peer", "claims"}:
        ahead = doc[tok.i: tok.i + 4]
    else:
        return False
    return any(t.text.lower() in _REVIEWER_WORDS for t in ahead)


# a line of a form or a table: "Pain (0-10): With meds 5 | Without meds 9", "Rx: Tramadol 50 MG | 1-2 tabs PO q4-6h"
_LABEL_LINE = re.compile(r"[A-Z][\w /()&+#,.'-]{0,40}?:(?:\s|$)|[^\n]*\s\|\s")


def _line_start(doc, tok) -> bool:
    """The token is the first word of a line (a newline, and nothing but spaces, before it)."""
    if tok.is_space:
        return False
    prev = doc[tok.i - 1]
    return "\n" in (prev.text if prev.is_space else prev.whitespace_)


def _form_line(text: str, tok) -> bool:
    """A form's or a table's line is a statement of its own, whether or not the line before ended with a period
    (EMR exports, medication tables, flowsheets): PyRuSH runs such lines together, which makes one sentence name
    several drugs. A wrapped line of prose (lower case, no label, no table bar) is left alone."""
    start = tok.idx
    end = text.find("\n", start)
    line = text[start:end if end >= 0 else len(text)]
    prev_end = text.rfind("\n", 0, start)
    prev_line = text[text.rfind("\n", 0, max(prev_end, 0)) + 1:max(prev_end, 0)]
    return bool(_LABEL_LINE.match(line)) or " | " in prev_line


def _sentence_fixes(doc):
    """Sentence boundaries PyRuSH misses or invents in record text: a run-together sentence from PDF
    extraction ("employee.In a report", "2014.In a note") starts a sentence, and so does a capital after a
    sentence that ends inside a quote (".' The notes"); "Dr." and "Mr." do not end one."""
    text = doc.text  # built once: Doc.text joins every token
    for tok in doc[1:]:
        prev = doc[tok.i - 1]
        if _line_start(doc, tok) and _form_line(text, tok):
            tok.is_sent_start = True
            continue
        if _opinion_turn(doc, tok):
            tok.is_sent_start = True
            continue
        if prev.text == "." and tok.text[:1].isupper() and tok.i >= 2 and doc[tok.i - 2].text[-1:].isalnum() \
                and not doc[tok.i - 2].whitespace_ and not prev.whitespace_:
            tok.is_sent_start = True
            continue
        if prev.text in {"'", '"', "\u201d", "\u2019"} and tok.i >= 2 and doc[tok.i - 2].text.endswith((".", "!", "?")) \
                and prev.whitespace_ and tok.text[:1].isupper():
            tok.is_sent_start = True
            continue
        if prev.text.lower().rstrip(".") in {"dr", "mr", "mrs", "ms", "sr", "sra", "srta", "jr", "st", "vs", "approx", "e.g", "i.e", "no", "pt"} \
                and prev.text.endswith(".") and tok.is_sent_start and not tok.text[:1].isspace():
            if prev.text.lower() in {"no.", "pt."} and tok.text[:1].isupper():
                continue
            tok.is_sent_start = False
            continue
        # a period, a space and a capitalised word end a sentence PyRuSH sometimes runs on through terse notes
        # ("uses Tylenol ES. Request trial Butrans. Pain 8/10."), unless the period closes a title or an initial
        if prev.text == "." and prev.whitespace_ and tok.text[:1].isupper() and not tok.is_sent_start and tok.i >= 2 \
                and doc[tok.i - 2].text[-1:].isalnum() and not doc[tok.i - 2].whitespace_ and len(doc[tok.i - 2].text) > 1 \
                and doc[tok.i - 2].text.lower() not in _NOT_SENTENCE_END:
            tok.is_sent_start = True
            continue
        # a slashed abbreviation that ends a sentence keeps its period ("no N/V. Pt resumed walking"): PyRuSH runs on,
        # and the first sentence's "no" then negates the second's finding
        if prev.text.endswith(".") and len(prev.text) > 1 and prev.text[:-1].isalpha() and tok.i >= 2 \
                and doc[tok.i - 2].text == "/" and prev.whitespace_ and tok.text[:1].isupper() and not tok.is_sent_start:
            tok.is_sent_start = True
            continue
        # a dash inside a line joins its clause ("MTUS Formulary: naproxen sodium - Preferred", "Tx #9 - Improved"):
        # PyRuSH starts a sentence at "- Capital", which parts a status from the drug it is about
        if tok.text in {"-", "\u2013", "\u2014"} and tok.is_sent_start and prev.text[-1:].isalnum() and prev.whitespace_ == " " \
                and tok.whitespace_ == " " and tok.i + 1 < len(doc):
            tok.is_sent_start = False
            doc[tok.i + 1].is_sent_start = False
            continue
        # a title the tokenizer split from its period ("Sr" "." "M."): the name that follows is the same sentence
        if prev.text == "." and tok.i >= 2 and doc[tok.i - 2].text.lower() in {"sr", "sra", "srta", "jr", "dr", "mr", "mrs", "ms"} \
                and not doc[tok.i - 2].whitespace_ and tok.is_sent_start and tok.text[:1].isupper():
            tok.is_sent_start = False
    return doc

