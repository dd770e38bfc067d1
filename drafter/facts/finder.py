"""Mentions -> facts: each fact's status, value and evidence for a case (and a disputed item).

How a reading is settled, the same for every fact:
1. A mention counts only in the treating records (not the UR letter), outside quarantined instruction-like
   sentences and sentences reporting the UR reviewer's opinion, in the sections its rule allows, and not
   when ConText marks it historical, hypothetical, about a family member or uncertain.
2. A present phrase under a negation cue reads absent ("Denies numbness", "SLR negative").
3. Item-scoped facts (visits, benefit, duration) read sentences naming the requested treatment first,
   else sentences naming no other treatment.
4. The latest dated statement governs. When earlier statements disagree, the fact says so in its note; when
   statements of the same (latest) date disagree across documents, the fact is marked `conflict`.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property, lru_cache
from typing import Any


from drafter.facts.pipeline import SPAN_GROUP, Mention, Sentence, build_nlp, load_lexicon, load_rules
from drafter.facts.numbers import Spelled, spell_numbers
from drafter.facts.schema import Fact, FactRule
from drafter.facts.values import DATE, READERS, Context, dates_in, parse_date
from drafter.intake import Case, Document
from drafter.items import ParsedItem, drug_table, parse_item, regions


def _compile(patterns: list[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


class FactFinder:
    """Finds the vocabulary's facts in a case; item-scoped facts take the disputed item into account."""

    def __init__(self, case: Case, rules_dir: str | None = None) -> None:
        self.case = case
        self.request_date = case.request_date
        self.rules: dict[str, FactRule] = load_rules(rules_dir)
        self.nlp = build_nlp(rules_dir)
        lex = load_lexicon("sentences")
        self._opinion = _compile(lex["ur_opinion"])
        self._sentence_date = [re.compile(p.replace("{DATE}", f"(?P<date>{DATE})"), re.I) for p in lex["sentence_date"]]
        self._not_event_date = _compile(lex["not_event_date"])
        self._request_line = _compile(lex["request_line"])
        self._given = _compile(lex["given_before"])
        self._cache: dict[tuple[str, str | None], Fact] = {}

    # -- documents -> sentences and mentions ----------------------------------------------------------
    @cached_property
    def _instruction_spans(self) -> dict[str, list[tuple[int, int]]]:
        """Planted instructions' spans, as offsets of the text the rules read."""
        out: dict[str, list[tuple[int, int]]] = {}
        for i in self.case.instructions:
            spelled = self._spelled.get(i.document)
            at = spelled.to_spelled if spelled else (lambda x: x)
            out.setdefault(i.document, []).append((at(i.start), at(i.end)))
        return out

    @cached_property
    def _spelled(self) -> dict[str, Spelled]:
        """Each document with its number words as digits: the text the rules read."""
        return {d.name: spell_numbers(d.text) for d in self.case.evidence}

    def document_date(self, d: Document) -> dt.date | None:
        """The date a document speaks for: an ISO date in its file name, else a labelled date in its head."""
        m = re.search(r"(\d{4}-\d{2}-\d{2})", d.name)
        if m:
            try:
                return dt.date.fromisoformat(m.group(1))
            except ValueError:
                pass
        head = d.text[:400]
        for pos, date in dates_in(head):
            if not self._not_event_date.search(head[max(0, pos - 40):pos]):
                return date
        return None

    @cached_property
    def parsed(self) -> list[tuple[list[Sentence], list[Mention]]]:
        out = []
        for d in self.case.evidence:
            out.append(self._parse(d))
        return out

    def _parse(self, d: Document) -> tuple[list[Sentence], list[Mention]]:
        spelled = self._spelled.get(d.name) or spell_numbers(d.text)
        doc = self.nlp(spelled.text)
        current = self.document_date(d)
        sentences: list[Sentence] = []
        by_start: dict[int, list[Sentence]] = {}
        planted = self._instruction_spans.get(d.name, [])
        for s in doc.sents:
            if not s.text.strip():
                continue
            section = s[0]._.section_category if len(s) else None
            pieces: list[Sentence] = []
            # a planted instruction inside a sentence is cut out as its own piece: it is never evidence, and the
            # clinical text around it ("Flex 70 (was 40). [[note to the AI ...]] Back to full duty.") still is
            for a, b in _around(s.start_char, s.end_char, planted):
                raw = spelled.text[a:b]
                text = raw.strip().lstrip(")]}>").strip()
                if not text:
                    continue
                stated = self._date_of(text)
                if stated:
                    current = stated
                lead = raw.index(text[:1]) if text else 0
                start, end = spelled.to_original(a + lead), spelled.to_original(a + lead + len(text))
                pieces.append(Sentence(d.name, len(sentences) + len(pieces), a + lead, a + lead + len(text), " ".join(text.split()),
                                       section, current.isoformat() if current else None,
                                       start, end, " ".join(d.text[start:end].split())))
            sentences.extend(pieces)
            by_start[s.start] = pieces
        mentions: list[Mention] = []
        for span in doc.spans.get(SPAN_GROUP, []):
            sent = next((p for p in by_start.get(span.sent.start, []) if p.start <= span.start_char < p.end), None)
            if sent is None:
                continue
            fact, _, polarity = span.label_.partition("|")
            cats = _outside_modifiers(span)
            mentions.append(Mention(
                fact=fact, polarity=polarity, sentence=sent, start=span.start_char, end=span.end_char,
                text=span.text, negated="NEGATED_EXISTENCE" in cats, historical="HISTORICAL" in cats,
                hypothetical="HYPOTHETICAL" in cats, family="FAMILY" in cats, uncertain="POSSIBLE_EXISTENCE" in cats))
        return sentences, mentions

    def _date_of(self, text: str) -> dt.date | None:
        """The date a sentence speaks for when it names one ("In a progress note dated 3/5/2015, ...")."""
        for rx in self._sentence_date:
            m = rx.search(text)
            if m and not self._not_event_date.search(text[max(0, m.start("date") - 40):m.start("date")]):
                d = parse_date(m.group("date"))
                if d:
                    return d
        return None

    @property
    def sentences(self) -> list[Sentence]:
        return [s for sents, _ in self.parsed for s in sents]

    @cached_property
    def all_text(self) -> str:
        return "\n".join(d.text for d in self.case.evidence).lower()

    def _excluded(self, s: Sentence) -> str | None:
        """Why a sentence is not evidence: quarantined instruction-like text or the UR reviewer's opinion."""
        for a, b in self._instruction_spans.get(s.document, []):
            if a < s.end and s.start < b:
                return "instruction"
        if self._opinion.search(s.text):
            return "opinion"
        return None

    def is_request_line(self, s: Sentence, item: ParsedItem | None) -> bool:
        """The request's own line for this item (RFA or UR request list), which says nothing of prior care."""
        mine = self.treatment_pattern(item)
        return bool(mine and mine.search(s.text) and self._request_line.search(s.text) and not self._given.search(s.text))

    # -- the item's treatment ---------------------------------------------------------------------------
    def treatment_pattern(self, item: ParsedItem | None) -> re.Pattern | None:
        if item is None:
            return None
        if item.treatment == "medication":
            names = [re.escape(n) for n, (g, _, _) in drug_table().items() if g == item.generic]
            pats = names or [re.escape(item.generic or item.raw.split()[0])]
            return re.compile(r"(?<![a-z])(?:" + "|".join(pats) + r")(?![a-z])", re.I)
        words = load_lexicon("treatments")["treatments"].get(item.treatment) or re.escape(item.treatment)
        if item.category == "injections":  # "Prior injection 04/2016 gave complete relief": the item's own, unnamed
            words += "|" + load_lexicon("treatments")["this_injection"]
        return re.compile(words, re.I)

    def other_treatments(self, item: ParsedItem | None) -> re.Pattern | None:
        if item is None:
            return None
        lex = load_lexicon("treatments")
        pats = [p for t, p in lex["treatments"].items() if t != item.treatment]
        drugs = [re.escape(n) for n, (g, _, _) in drug_table().items() if g != item.generic and len(n) >= 5]
        pats.append(r"(?<![a-z])(?:" + "|".join(drugs) + r")(?![a-z])")
        if item.treatment != "medication":
            pats.append(lex["any_medication"])
        pats.extend(lex["other_procedures"] if item.category not in ("injections", "surgery") else [])
        return _compile(pats)

    def medications(self, item: ParsedItem | None, limit: int) -> list[tuple[str, Sentence]]:
        """Drugs the latest dated notes show the applicant taking, as the records name them, with the sentence
        each rests on: what 9792.20(f) weighs as dependency on continued medical treatment. The item's own drug,
        instruction-like text, the UR reviewer's reasoning and sentences about stopped, requested or decided
        drugs are left out."""
        table = drug_table()
        # "hydrocodone-acetaminophen" is one drug, and "40 mg morphine equivalents" names a dose, not morphine
        alts = "|".join(re.escape(n).replace("/", "[/-]") for n in table if len(n) >= 4)
        names = re.compile(r"(?<![a-z])(" + alts + r")(?![a-z]|[/-][a-z]|\s+(?:milligram\s+)?equivalen)", re.I)
        not_taking = _compile(load_lexicon("sentences")["not_taking"])
        # the request's own line for any disputed item ("2) Omeprazole 20 mg #30", "2. Refill compounded cream
        # flurbiprofen 20%/...") names what is asked for, which that item's own rationale weighs
        disputed = [parse_item(x) for x in self.case.items]
        found: list[tuple[str, str, Sentence]] = []  # (generic, name as a letter writes it, sentence)
        for s in self.sentences:
            if self._excluded(s) or not_taking.search(s.text) or any(self.is_request_line(s, d) for d in [item, *disputed]):
                continue
            in_compound = False
            for m in names.finditer(s.text):
                key = m.group(1).lower()
                generic, _, brand = table[key if key in table else key.replace("-", "/")]
                if in_compound:
                    continue  # the ingredients named after "compounded cream" are that one product
                if generic == "compound":
                    in_compound = True
                if item is not None and generic == item.generic:
                    continue
                # letters write generics in lower case and brands capitalised, whatever the record's capitals
                written = m.group(1)
                name = (written if not written.isupper() else written.title()) if brand else written.lower()
                found.append((generic, name, s))
        if not found:
            return []
        latest = max((s.date or "") for _, _, s in found)
        out: dict[str, tuple[str, Sentence]] = {}
        for generic, name, s in found:
            if (s.date or "") == latest and generic not in out:
                out[generic] = (name, s)
        return list(out.values())[:limit]

    # -- mentions -> fact -----------------------------------------------------------------------------
    def mentions(self, fact: str) -> list[Mention]:
        return [m for _, ms in self.parsed for m in ms if m.fact == fact]

    def _usable(self, m: Mention, rule: FactRule) -> bool:
        if self._excluded(m.sentence):
            return False
        sec = m.sentence.section
        if sec and sec in rule.skip_sections:
            return False
        if rule.sections and sec and sec not in rule.sections:
            return False
        # a stated date is a past event by nature: a history cue ("until the injury of 3/15/2013") or a nearby
        # uncertainty cue ("r/o CRPS after CTR 7/8/2014") does not discount it
        dated = rule.kind == "date" or rule.timeless
        if m.polarity == "present" and ((m.historical and not dated) or m.hypothetical or m.family or (m.uncertain and not dated)):
            return False
        if m.polarity == "absent" and (m.hypothetical or m.family):
            return False
        if m.polarity == "present" and rule.not_in_clause:
            clause = _clause_of(m)
            return not any(re.search(p.regex, clause, re.I) for p in rule.not_in_clause)
        return True

    def _scoped(self, mentions: list[Mention], rule: FactRule, item: ParsedItem | None) -> list[Mention]:
        if rule.scope != "item" or item is None:
            return mentions
        mine, other = self.treatment_pattern(item), self.other_treatments(item)
        # a sentence that names the treatment but can never be evidence (the UR reviewer's opinion, a planted
        # instruction, the request's own line) does not take the place of the records' sentences about it
        about = [m for m in mentions if mine and mine.search(m.sentence.text) and not self._excluded(m.sentence)
                 and not (rule.skip_request_lines and self.is_request_line(m.sentence, item))]
        if about:
            return about
        # another medicine cut back, unchanged or depended on is the requested treatment's outcome ("has cut ibuprofen
        # from 3x to 1x daily", "opioids tapered to off", "unchanged Norco use"), not a sentence about that medicine
        return [m for m in mentions if not (other and other.search(_other_medicine_cut(m.sentence.text)))]

    def find(self, name: str, item: ParsedItem | None = None) -> Fact:
        """The fact named `name` (a key of drafter.corpus.schema.FACTS) for this case and item."""
        key = (name, item.raw if item else None)
        if key not in self._cache:
            self._cache[key] = self._find(name, item)
        return self._cache[key].model_copy(deep=True)

    def _find(self, name: str, item: ParsedItem | None) -> Fact:
        rule = self.rules.get(name)
        derived = DERIVED.get(name)
        if derived is not None:
            return derived(self, item, rule)
        if rule is None:
            return Fact(name=name, note="no rule file for this fact yet")
        every = self._scoped(self.mentions(name), rule, item)
        if rule.region_scoped and item is not None and item.body_regions:
            every = [m for m in every if _about_region(m, item.body_regions)]
        if rule.skip_request_lines:
            every = [m for m in every if not self.is_request_line(m.sentence, item)]
        ms = [m for m in every if self._usable(m, rule)]
        if rule.kind in ("number", "date", "category"):
            fact = self._valued(rule, ms, item)
        else:
            fact = self._settle(rule, ms)
        if rule.present_if_age_over is not None and fact.status != "present":
            age = self.find("age")
            if age.status == "present" and age.value is not None and float(age.value) > rule.present_if_age_over:
                return Fact(name=name, status="present", evidence=age.evidence,
                            note=f"age {float(age.value):g} is over {rule.present_if_age_over:g}" + (f"; {fact.note}" if fact.note else ""))
        if not fact.known:
            fact = _only_context(fact, [m for m in every if m not in ms], self)
        return fact

    def _settle(self, rule: FactRule, ms: list[Mention]) -> Fact:
        if rule.negated_reads == "unknown":
            ms = [m for m in ms if not (m.polarity == "present" and m.negated)]
        if not ms:
            return Fact(name=rule.fact, note=rule.silence)
        when = (lambda m: _when(m)[0]) if rule.within_a_date == "prefer" else _when
        latest = max(when(m) for m in ms)
        last = [m for m in ms if when(m) == latest]
        readings = {m.reading for m in last}
        status = rule.prefer if len(readings) > 1 else next(iter(readings))
        chosen = [m for m in last if m.reading == status]
        earlier = [m for m in ms if when(m) != latest and m.reading != status]
        note = ""
        conflict = False
        if earlier:
            e = earlier[-1]
            note = (f"earlier records read {e.reading} ({e.sentence.document}, {e.sentence.date or 'undated'}); "
                    f"the latest ({chosen[0].sentence.document}, {chosen[0].sentence.date or 'undated'}) governs")
        agreeing = {m.sentence.document for m in last if m.reading == status}
        disagreeing = {m.sentence.document for m in last if m.reading != status}
        if disagreeing and not agreeing & disagreeing:  # documents of the same date that say opposite things
            conflict = True
            other = next(m for m in last if m.reading != status)
            note = (f"the records disagree: {other.sentence.document} reads {other.reading}, "
                    f"{chosen[0].sentence.document} reads {status}")
        first = chosen[0]
        return Fact(name=rule.fact, status=status, evidence=[s.evidence() for s in _unique_sentences(chosen)][:3],
                    negated=first.polarity == "present" and first.negated, conflict=conflict, note=note)

    def _valued(self, rule: FactRule, ms: list[Mention], item: ParsedItem | None) -> Fact:
        """Number, date and category facts: the value from the latest sentence that states one."""
        if rule.value == "mme":
            return self._mme(rule, ms, item)
        reader = READERS[rule.value]  # type: ignore[index]
        sentences = _unique_sentences(sorted(ms, key=_when, reverse=True))
        rules = [rule.model_copy(update={"value_patterns": [p]}) for p in rule.value_patterns] if rule.value_order == "pattern" else [rule]
        for r in rules:
            for s in sentences:
                ctx = Context(item, dt.date.fromisoformat(s.date) if s.date else None, self.request_date)
                value = reader(r, s.text, ctx)
                if value is not None and rule.kind == "number" and any(
                        m.reading == "absent" and _when(m) > _sent_when(s) for m in ms):
                    continue  # a later record reads absent ("Norco not working anymore, 9/10 with or without"): it governs
                if value is not None:
                    return self._with_disagreement(Fact(name=rule.fact, status="present", value=value, evidence=[s.evidence()]),
                                                   s, [x for x in sentences if x.document != s.document], rule, reader, item)
        polar = self._settle(rule, ms)
        if polar.status == "absent" and rule.kind == "number":
            polar.value = 0.0
        if polar.status == "present" and not polar.note:
            polar.note = "documented, but no value is stated"
        return polar

    def _with_disagreement(self, fact: Fact, chosen: Sentence, others: list[Sentence], rule: FactRule, reader, item) -> Fact:
        """Other documents stating a different number: an earlier one is noted (the latest governs); one of the
        same date makes the fact a conflict the reviewer must settle."""
        if rule.kind != "number":
            return fact
        for s in others:
            v = reader(rule, s.text, Context(item, dt.date.fromisoformat(s.date) if s.date else None, self.request_date))
            if v is None or abs(float(v) - float(fact.value)) < rule.disagree_by:  # type: ignore[arg-type]
                continue
            if (s.date or "") == (chosen.date or ""):
                return fact.model_copy(update={"status": "unknown", "conflict": True, "evidence": [*fact.evidence, s.evidence()],
                                               "note": f"the records disagree: {chosen.document} states {fact.value:g}, {s.document} states {v:g}"})
            return fact.model_copy(update={"evidence": [*fact.evidence, s.evidence()],
                                           "note": f"the records disagree: {s.document} ({s.date or 'undated'}) states {v:g}; "
                                                   f"the latest, {chosen.document} ({chosen.date or 'undated'}), states {fact.value:g} and governs"})
        return fact

    def _no_factor_opioid(self, doc: str) -> Sentence | None:
        """A sentence of the document naming a current opioid the MME table cannot convert (buprenorphine)."""
        from drafter.facts.values import _stopped

        lex = load_lexicon("opioids")
        rx, proposed = re.compile(lex["no_factor"], re.I), re.compile(lex["proposed_before"], re.I)
        before, _ = _stopped()
        for s in self.sentences:
            if s.document != doc or self._excluded(s):
                continue
            for m in rx.finditer(s.text):
                ahead = s.text[max(0, m.start() - 40):m.start()]
                if not before.search(ahead) and not proposed.search(ahead):
                    return s
        return None

    def _unnamed_schedule(self, item: ParsedItem | None) -> Fact | None:
        """The requested opioid's schedule stated with no drug named ("He takes one tablet four times a day",
        "Sig: 1 tab TID prn") or with its name but no strength ("one tablet of the Norco three times a day"): read
        with the item's own drug and strength, from the latest such sentence."""
        from drafter.facts.values import _COUNT, mme_current_and_earlier

        if item is None or not _is_opioid(item) or not item.strength:
            return None
        any_drug = _any_drug_name()
        table = drug_table()
        mine = self.treatment_pattern(item)
        for s in sorted((s for s in self.sentences if not self._excluded(s)), key=_sent_when, reverse=True):
            names = {table.get(m.group(0).lower(), ("",))[0] for m in any_drug.finditer(s.text)}
            if names - {item.generic} or not re.search(_COUNT, s.text, re.I) or self.is_request_line(s, item):
                continue
            # the schedule belongs to the last drug named before it in its document, if any: it must be this one
            spelled = self._spelled.get(s.document)
            named = list(any_drug.finditer(spelled.text[:s.start])) if spelled else []
            if not names and named and table.get(named[-1].group(0).lower(), ("",))[0] != item.generic:
                continue
            # the drug named without its strength ("one tablet of the Norco three times a day") takes the item's
            text = mine.sub(lambda m: f"{m.group(0)} {item.strength}", s.text, count=1) if names and mine else f"{item.generic} {item.strength} " + s.text
            now, _ = mme_current_and_earlier(text)
            if now:
                total = round(sum(now.values()), 1)
                return Fact(name="daily_mme", status="present", value=total, evidence=[s.evidence()],
                            note=f"the schedule states no strength{'' if names else ' and names no drug'}; read with the requested "
                                 f"{item.generic} {item.strength}: {total:g} mg MME a day")
        return None

    def _mme(self, rule: FactRule, ms: list[Mention], item: ParsedItem | None = None) -> Fact:
        """Daily MME: a stated MED in the latest document, else the sum over the opioids it lists (each once), else
        the requested opioid's own schedule stated without its name."""
        from drafter.facts.values import mme_current_and_earlier, read_stated_mme

        by_doc: dict[str, list[Sentence]] = {}
        for s in _unique_sentences(ms):
            by_doc.setdefault(s.document, []).append(s)
        for doc in sorted(by_doc, key=lambda d: max(_sent_when(s) for s in by_doc[d]), reverse=True):
            sents = sorted(by_doc[doc], key=_sent_when, reverse=True)
            for s in sents:
                v = read_stated_mme(rule, s.text)
                if v is not None:
                    return Fact(name=rule.fact, status="present", value=v, evidence=[s.evidence()])
            per_drug: dict[str, tuple[float, Sentence]] = {}
            earlier: dict[str, tuple[float, Sentence]] = {}  # doses the records mark as before the current one
            for s in sents:
                now, before = mme_current_and_earlier(s.text)
                for found, acc in ((now, per_drug), (before, earlier)):
                    for generic, v in found.items():
                        if generic not in acc or v > acc[generic][0]:
                            acc[generic] = (v, s)
            per_drug = {**{g: x for g, x in earlier.items() if g not in per_drug}, **per_drug}
            unconvertible = self._no_factor_opioid(doc)
            if per_drug and unconvertible:
                return Fact(name=rule.fact, evidence=[unconvertible.evidence()],
                            note="the records name an opioid with no MME factor (buprenorphine), so the daily total cannot be computed")
            if per_drug:
                total = round(sum(v for v, _ in per_drug.values()), 1)
                ev = [s.evidence() for s in _dedupe([s for _, s in per_drug.values()])]
                return Fact(name=rule.fact, status="present", value=total, evidence=ev,
                            note=" + ".join(f"{g} {v:g}" for g, (v, _) in per_drug.items()) + " mg MME a day")
        unnamed = self._unnamed_schedule(item)
        if unnamed is not None:
            return unnamed
        polar = self._settle(rule, ms)
        unconvertible = next((s for d in self.case.evidence for s in [self._no_factor_opioid(d.name)] if s), None)
        if unconvertible and polar.status != "unknown":  # "on Suboxone 8/2 bid; no other opioids" is not zero
            return Fact(name=rule.fact, evidence=[unconvertible.evidence()],
                        note="the records name an opioid with no MME factor (buprenorphine), so the daily total cannot be computed")
        if polar.status == "absent":
            polar.value = 0.0
        elif polar.status == "present":
            polar.status, polar.note = "unknown", "opioids are named but no dose and frequency to compute the MME"
        return polar


@lru_cache(maxsize=1)
def _any_drug_name() -> re.Pattern:
    """Any drug the drug table names (four letters or more), compiled once: it is searched on every sentence."""
    return re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(n) for n in drug_table() if len(n) >= 4) + r")(?![a-z])", re.I)


def _only_context(fact: Fact, skipped: list[Mention], ff: FactFinder) -> Fact:
    """An unknown fact that the records mention only as history, hypothesis, family, uncertainty or in an
    instruction-like sentence: say so, with the quote, so the reviewer sees why it did not count."""
    for m in skipped:
        why = ff._excluded(m.sentence)
        flags = {"historical": m.historical, "hypothetical": m.hypothetical}
        if why == "instruction":
            note = "mentioned only in instruction-like text, which is never evidence"
        elif why == "opinion":
            note = "mentioned only in the UR reviewer's or claims administrator's reasoning, not the treating records"
        elif m.historical:
            note = "mentioned only as past history"
        elif m.hypothetical:
            note = "mentioned only as a plan, goal or hypothesis"
        elif m.family:
            note = "mentioned only about a family member"
        elif m.uncertain:
            note = "mentioned only as possible or to be ruled out"
        else:
            continue
        return fact.model_copy(update={"evidence": [m.sentence.evidence()], "note": note, **flags})
    return fact


def _outside_modifiers(span) -> set[str]:
    """ConText categories that modify a phrase from outside it. A cue inside the matched phrase ("have not
    helped", "not a surgical candidate") is part of what the rule reads, not a modifier of it."""
    out = set()
    for mod in getattr(span._, "modifiers", ()) or ():
        ms = mod.modifier_span
        start, end = (ms[0], ms[1]) if isinstance(ms, tuple) else (ms.start, ms.end)
        if start >= span.start and end <= span.end:
            continue
        out.add(mod.category)
    return out


@lru_cache(maxsize=1)
def _region_patterns() -> list[tuple[str, re.Pattern]]:
    return [(name, re.compile(p, re.I)) for name, p in regions()["patterns"].items()]


# another medicine as the requested treatment's outcome (used less, unchanged, depended on); every pattern's matches on
# the sentence are cut together, so a passive reading that stops at "Reports reduced" cannot leave "Norco use" behind
_OTHER_MEDICINE_OUTCOME = (
    # "has cut ibuprofen from 3x to 1x daily", "reduced her Norco from 6 to 3 tablets a day"
    re.compile(r"(?<![a-z])(?:cut|cutting|decreas\w*|reduc\w*|taper\w*|stopp?\w*|discontinu\w*|wean\w*|came off|off of|"
               r"no longer (?:takes|taking|needs|uses)|(?:used|uses|using|takes|took|taking|needs|needed) (?:less|fewer))\s+(?:(?:her|his|the|their|all)\s+)?(?:(?!from\b)[\w/.-]+\s+){0,3}"
               r"(?:from\s+\d+(?:\.\d+)?\s*(?:[\w/]+\s+){0,3}to\s+\d+(?:\.\d+)?\s*)?"
               r"(?:(?:tablets?|tabs?|pills?|mg|mcg|times|x)(?![a-z])\s*)?"
               r"(?:(?:a day|daily|per day|/day|bid|tid|qid|twice (?:a day|daily)|q\d+h)(?![a-z]))?", re.I),
    # "uses one Norco a day instead of four"
    re.compile(r"(?<![a-z])(?:uses|takes|using|taking)\s+(?:[\w/.-]+\s+){1,4}?instead of\s+(?:\d+|one|two|three|four|five|six|seven|eight)(?:\s*[\w/]+)?", re.I),
    # "opioids tapered to off", "Soma was discontinued"
    re.compile(r"(?:[\w/.-]+\s+){1,2}(?:was |were |has been |have been )?(?:tapered|stopped|discontinued|reduced|decreased|weaned)"
               r"(?![a-z])", re.I),
    # a medicine's use as the outcome, unchanged or depended on: "unchanged Norco use", "No change in ... medication use",
    # "remains dependent on cyclobenzaprine and naproxen"
    re.compile(r"(?<![a-z])(?:unchanged|same|continued|ongoing|no change in|no decrease in|no reduction in)\s+(?:[\w/.()-]+\s+){0,4}?"
               r"(?:use|usage|intake|consumption|requirements?)(?![a-z])", re.I),
    re.compile(r"(?<![a-z])(?:dependent on|dependence on|reliant on|relies on)\s+[^.;]{1,60}", re.I),
)


def _other_medicine_cut(text: str) -> str:
    """The sentence without its clauses about another medicine as an outcome (used less, unchanged, depended on)."""
    spans = sorted((m.start(), m.end()) for pat in _OTHER_MEDICINE_OUTCOME for m in pat.finditer(text))
    out, pos = [], 0
    for a, b in spans:
        if a > pos:
            out.append(text[pos:a])
        pos = max(pos, b)
    out.append(text[pos:])
    return " ".join(out)


def _around(start: int, end: int, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end) cut at the spans that overlap it: the pieces between them and the spans' own parts, in order."""
    inside = sorted((max(a, start), min(b, end)) for a, b in cuts if a < end and start < b)
    out, pos = [], start
    for a, b in inside:
        if a > pos:
            out.append((pos, a))
        if b > max(a, pos):
            out.append((max(a, pos), b))
        pos = max(pos, b)
    if pos < end:
        out.append((pos, end))
    return out


def _about_region(m: Mention, item_regions: list[str]) -> bool:
    """False when the finding is about a body region unrelated to the item's: the region named nearest before the
    finding in its sentence (or inside it), else the first one after it in the same clause."""
    s = m.sentence
    lo, hi = m.start - s.start, m.end - s.start
    named = [(r.start(), name) for name, pat in _region_patterns() for r in pat.finditer(s.text)]
    before = [x for x in named if x[0] < hi]
    if before:
        region = max(before)[1]
    else:
        clause = re.split(r"[.;]", s.text[lo:], maxsplit=1)[0]
        after = [x for x in named if x[0] < lo + len(clause)]
        if not after:
            return True
        region = min(after)[1]
    related = regions()["related"]
    return any(region in related[r] for r in item_regions if r in related)


def _when(m: Mention) -> tuple[str, int]:
    return _sent_when(m.sentence)


def _sent_when(s: Sentence) -> tuple[str, int]:
    return (s.date or "", s.index)


def _unique_sentences(ms: list[Mention]) -> list[Sentence]:
    return _dedupe([m.sentence for m in ms])


def _dedupe(sents: list[Sentence]) -> list[Sentence]:
    seen, out = set(), []
    for s in sents:
        if (s.document, s.start) not in seen:
            seen.add((s.document, s.start))
            out.append(s)
    return out


# -- facts derived from the item or from other facts ---------------------------------------------------
def _hours_per_week(ff: FactFinder, item: ParsedItem | None, rule: FactRule | None) -> Fact:
    if item and item.hours_per_day:
        return Fact(name="hours_per_week", status="present", value=item.hours_per_day * (item.days_per_week or 7),
                    note="from the item as requested")
    return Fact(name="hours_per_week")


def _compounded(ff: FactFinder, item: ParsedItem | None, rule: FactRule | None) -> Fact:
    if item and item.category == "topicals":
        return Fact(name="compounded_ingredients", status="present", value=item.raw, note=f"the product requested: {item.raw}")
    return Fact(name="compounded_ingredients")


def _request_date(ff: FactFinder, item: ParsedItem | None, rule: FactRule | None) -> Fact:
    if ff.request_date:
        return Fact(name="request_date", status="present", value=ff.request_date.isoformat(), note=ff.case.date_source)
    return Fact(name="request_date")


_CONTINUING = re.compile(r"\b(additional|continued|continue|continuation|more|further|extension|extend|repeat|refill\w*|ongoing|renew\w*|"
                         r"remaining|resume)\b", re.I)


# a procedure numbered past the first: "Stellate ganglion block #2", "second ESI", "3rd block"
_REPEAT = re.compile(r"(?<![a-z])repeat(?:ed|ing)?\s+(?:(?:the|a|her|his|bilateral|bilat|left|right|l|r|[a-z]\d-?\w*)\s+){0,3}", re.I)
_NTH = re.compile(r"(?:#\s*|\bno\.\s*)[2-9](?!\d)|\b(?:second|third|fourth|2nd|3rd|4th)\b", re.I)


# words that make a medication-list line a new prescription, not a drug in use
_NEW_DRUG = re.compile(r"(?<![a-z])(?:new|start\w*|begin|began|initiat\w*|add(?:ed)?|trial|request\w*|plan|proposed|pending)(?![a-z])", re.I)


def _on_medication_list(ff: FactFinder, item: ParsedItem) -> Sentence | None:
    """The latest line of a medication list or table ("ACTIVE MEDICATIONS", "Meds:") that names the requested drug
    as one the patient takes: a drug on the list is in use, so its request continues it."""
    if item.treatment != "medication":
        return None
    mine = ff.treatment_pattern(item)
    if mine is None:
        return None
    listed = [s for s in ff.sentences if s.section == "medications" and not ff._excluded(s) and mine.search(s.text)
              and not _NEW_DRUG.search(s.text) and not ff.is_request_line(s, item)]
    return max(listed, key=_sent_when) if listed else None


def _phase(ff: FactFinder, item: ParsedItem | None, rule: FactRule | None) -> Fact:
    """initial (a first course, trial or first prescription) or continuation (more of what was given)."""
    if item is None:
        return Fact(name="treatment_phase")
    if _CONTINUING.search(item.raw) or (item.treatment != "medication" and _NTH.search(item.raw)):
        return Fact(name="treatment_phase", status="present", value="continuation", note=f"the request says so: {item.raw}")
    mine = ff.treatment_pattern(item)
    # "Plan: repeat TPIs x 4": the request line itself says the treatment was given before
    for s in ff.sentences:
        for r in _REPEAT.finditer(s.text):
            if mine and mine.match(s.text, r.end()) and not ff._excluded(s):
                return Fact(name="treatment_phase", status="present", value="continuation", evidence=[s.evidence()],
                            note="the records ask to repeat it")
    if rule is not None:
        ms = ff._scoped([m for m in ff.mentions("treatment_phase") if ff._usable(m, rule)], rule, item)
        ms = [m for m in ms if mine and mine.search(m.sentence.text) and not (rule.skip_request_lines and ff.is_request_line(m.sentence, item))]
        # a sentence about two treatments ("Continue Mobic, add Prilosec"): the words in the item's own clause speak for it
        own = [m for m in ms if mine and mine.search(_clause_of(m))]
        other = ff.other_treatments(item)
        ms = own or [m for m in ms if not (other and other.search(_clause_of(m)))]
        if ms:
            f = ff._settle(rule, ms)
            if f.status == "present":
                return Fact(name="treatment_phase", status="present", value="continuation", evidence=f.evidence,
                            note="the records show it is already in use or was given before")
            if f.status == "absent":
                return Fact(name="treatment_phase", status="present", value="initial", evidence=f.evidence,
                            note="the records describe a first course or trial")
    listed = _on_medication_list(ff, item)
    if listed is not None:
        return Fact(name="treatment_phase", status="present", value="continuation", evidence=[listed.evidence()],
                    note="the drug is on the records' medication list")
    key = "postsurgical_visits_completed" if item.post_op else "prior_visits_completed"
    if item.treatment != "medication":
        prior = ff.find(key, item)
        # a count of therapy visits ("Visits to date: 12 of 12") is not a count of injections: for an injection, the
        # count's sentence must name one
        mine = ff.treatment_pattern(item)
        of_this = not (item.category == "injections" and mine and not any(mine.search(e.quote) for e in prior.evidence))
        if of_this and prior.status == "present" and (prior.value is None or float(prior.value) > 0):
            return Fact(name="treatment_phase", status="present", value="continuation", evidence=prior.evidence,
                        note="prior visits of this treatment are documented")
    else:
        dur = ff.find("duration_of_use_weeks", item)
        weeks = rule.continuation_after_weeks if rule is not None and rule.continuation_after_weeks is not None else 0
        if dur.status == "present" and (dur.value is None or float(dur.value) >= weeks):
            return Fact(name="treatment_phase", status="present", value="continuation", evidence=dur.evidence,
                        note="the drug has been in use")
    return Fact(name="treatment_phase", status="present", value="initial", note="no prior use of this treatment is documented")


def _four_as(ff: FactFinder, item: ParsedItem | None, rule: FactRule | None) -> Fact:
    """The 4 As of ongoing opioid management, each from the records: analgesia (pain scores with and
    without), activities (functional gains), adverse effects (asked about), aberrant behaviour (UDS, CURES,
    agreement). All four -> present; a record saying one is not documented -> absent; else unknown."""
    if rule is not None:
        explicit = ff._settle(rule, [m for m in ff.mentions("four_as_documented") if ff._usable(m, rule)])
        if explicit.known:
            return explicit
    lex = load_lexicon("four_as")
    domains: dict[str, Fact | None] = {
        "analgesia": _first_present(ff.find("pain_score_change", item)) or _sentence_fact(ff, "analgesia", lex["analgesia"]),
        # activities were assessed when function is described at all, improved or not
        "activities of daily living": _first_known(ff.find("functional_improvement", item)) or _sentence_fact(ff, "activities", lex["activities"]),
        "adverse effects": _sentence_fact(ff, "adverse effects", lex["adverse_effects"]),
        "aberrant behaviour": (_first_known(ff.find("urine_drug_screen", item)) or _first_present(ff.find("opioid_agreement", item))
                               or _sentence_fact(ff, "aberrant behaviour", lex["aberrant"])),
    }
    missing = [k for k, v in domains.items() if v is None]
    evidence = [e for v in domains.values() if v for e in v.evidence[:1]]
    if not missing:
        return Fact(name="four_as_documented", status="present", evidence=evidence, note="all four are documented")
    # the prescriber's own notes on an opioid that leave a domain out do not document the four As; a UR letter or case
    # summary only quotes the records, so what it leaves out may still be in them (unknown)
    if item is not None and _is_opioid(item) and not re.search(lex["review_text"], ff.all_text, re.I):
        return Fact(name="four_as_documented", status="absent", evidence=evidence,
                    note="the treating notes on this opioid do not document: " + ", ".join(missing))
    return Fact(name="four_as_documented", evidence=evidence, note="not documented: " + ", ".join(missing))


_CLAUSE_END = re.compile(r"[;,]|\.\s|\s(?:and|but|then)\s", re.I)


def _clause_of(m: Mention) -> str:
    """The clause of its sentence a mention sits in (between commas, semicolons, "and", "but")."""
    text, at = m.sentence.text, m.start - m.sentence.start
    # sentence text has its whitespace collapsed; offsets still line up for single-spaced text, else use the whole sentence
    if text[at:at + len(m.text)].lower() != " ".join(m.text.split()).lower():
        at = text.lower().find(" ".join(m.text.split()).lower())
        if at < 0:
            return text
    starts = [x.end() for x in _CLAUSE_END.finditer(text[:at])]
    end = _CLAUSE_END.search(text, at + max(1, m.end - m.start))
    return text[(starts[-1] if starts else 0):(end.start() if end else len(text))]


def _is_opioid(item: ParsedItem) -> bool:
    from drafter.facts.values import _any_opioid

    return bool(_any_opioid().search(item.raw.lower()) or (item.generic and _any_opioid().search(item.generic.lower())))


def _first_present(f: Fact) -> Fact | None:
    return f if f.status == "present" else None


def _first_known(f: Fact) -> Fact | None:
    return f if f.known and f.evidence else None


def _sentence_fact(ff: FactFinder, name: str, pattern: str) -> Fact | None:
    rx = re.compile(pattern, re.I)
    for s in ff.sentences:
        if not ff._excluded(s) and rx.search(s.text):
            return Fact(name=name, status="present", evidence=[s.evidence()])
    return None


def _symptom_weeks(ff: FactFinder, item: ParsedItem | None, rule: FactRule | None) -> Fact:
    """A stated duration of symptoms, else the weeks from the date of injury to the request."""
    assert rule is not None
    f = ff._valued(rule, [m for m in ff.mentions(rule.fact) if ff._usable(m, rule)], item)
    if f.status == "present" and f.value is not None:
        return f
    doi = ff.find("date_of_injury")
    if doi.status == "present" and doi.value and ff.request_date:
        weeks = (ff.request_date - dt.date.fromisoformat(str(doi.value))).days / 7
        if weeks >= 0:
            return Fact(name=rule.fact, status="present", value=round(weeks), evidence=doi.evidence,
                        note=f"from the date of injury ({doi.value}) to the request ({ff.request_date})")
    return f


DERIVED: dict[str, Any] = {
    "four_as_documented": _four_as,
    "symptom_duration_weeks": _symptom_weeks,
    "hours_per_week": _hours_per_week,
    "compounded_ingredients": _compounded,
    "request_date": _request_date,
    "treatment_phase": _phase,
}
