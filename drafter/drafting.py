"""Drafting: the rationale per item, written by the LLM from the argument the code built, held to it by the
output checks and the grounding check; the fallback template writes the same argument when the model fails."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field

from drafter.argument import NECESSITY, Argument, page_numbers, agreeing_verb
from drafter.corpus.schema import TopicMeta
from drafter.grounding import GroundingReport, ground, pages_named, split_sentences
from drafter.llm import Generation, generate_structured, resample
from drafter.output_checks import CheckResult, check_guidance, covers, engages, failures, run_checks, uncovered
from drafter.prompts import PromptLibrary, curly_quotes, straight_quotes
from drafter.retrieval import Hit
from drafter.settings import CheckSettings, Settings

DECISION_WORD = {"upheld": "upheld", "overturned": "overturned", "needs_review": "not decided: needs review"}


class RationaleOut(BaseModel):
    """What the model must return for one item."""

    rationale: str = Field(max_length=2400)
    cited_chunk_ids: list[str] = Field(min_length=1, max_length=4)


@dataclass
class PassageView:
    chunk_id: str
    citation: str
    text: str
    pages: list[int]


@dataclass
class Attempt:
    """One model attempt: the raw reply and why it was not used (empty when it was)."""

    raw: str
    problems: list[str]
    sampling: dict


@dataclass
class DraftedRationale:
    text: str
    cited_ids: list[str]
    fallback_used: bool
    grounding: GroundingReport
    checks: list[CheckResult] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    generation: Generation | None = None
    notes: list[str] = field(default_factory=list)
    prompt: str = ""

    @property
    def degenerate(self) -> bool:
        """A model attempt failed an output check (echo, ellipsis, loop, stub, missing findings, stance, edition)."""
        return any(any(not p.startswith(("malformed", "ungrounded")) for p in a.problems) for a in self.attempts)


def passage_views(passages: list[Hit], max_chars: int = 500) -> list[PassageView]:
    return [PassageView(h.chunk_id, h.citation, h.text[:max_chars], h.pages) for h in passages]


def rationale_schema(passage_ids: list[str]) -> dict:
    """JSON schema with the citation ids restricted to the passages retrieval returned."""
    schema = RationaleOut.model_json_schema()
    schema["properties"]["cited_chunk_ids"]["items"] = {"type": "string", "enum": passage_ids}
    return schema


def _strip_conclusions(text: str) -> str:
    """Remove any sentence in which the model states necessity itself; the fixed conclusion is appended."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    keep = [s for s in sentences if not re.search(r"medically necessary|\btherefore\b", s, re.I)]
    return " ".join(keep)


def fallback_rationale(prompts: PromptLibrary, argument: Argument, findings: list[str]) -> str:
    return prompts.render("fallback_rationale", points=argument.points, findings=findings, conclusion=argument.conclusion)


def complete(body: str, missing: list) -> str:
    """The model's prose with the argument's points it left out stated after it (the opening context before it), in template sentences: a limit
    whose page the prose names (it stated the course) needs only its case side; the guideline is named in full
    unless the prose named it; a quote shortened to 'the same record' is given in full; nothing the prose
    already says is repeated."""
    # the governing entry's context opens a letter's rationale, so a left-out context point goes first
    head = [p.full_guideline_sentence for p in missing if p.kind == "context" and _fold(p.full_guideline_sentence) not in _fold(body)]
    out = [*head, body]
    for p in (p for p in missing if p.kind != "context"):
        low = _fold(" ".join(out))
        named = p.source.lower().removeprefix("mtus ").split(" (")[0] in low
        guideline = p.guideline_sentence if not p.repeat_source or named else p.full_guideline_sentence
        case = p.full_case or p.case
        stated = p.kind == "limit" and p.where and p.where.lower() in body.lower() and case
        cases = split_sentences(case)
        joined = " ".join(out)
        at = _fold(joined).find(_fold(cases[0])) if cases else -1
        if not stated and guideline and at >= 0 and _fold(guideline) not in _fold(joined):
            # the prose kept the case side ("The records provided for review do not document this.") without the
            # requirement it answers: the requirement goes before it, not after
            out = [joined[:at] + guideline + " " + joined[at:]]
            continue
        # sentence by sentence: prose that kept the first sentence of a two-sentence case side gets only the second
        for sentence in [guideline] * (not stated) + cases:
            if sentence and _fold(sentence) not in _fold(" ".join(out)):
                out.append(sentence)
    return " ".join(out)


_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def _fold(text: str) -> str:
    """Lower case with curly quotes made straight, one character for one (offsets stay): the model quotes the record
    with curly marks where the template uses straight ones."""
    return text.lower().translate(_QUOTES)


# "The guideline states" or "The same guidelines also state" before any guideline is named
_GENERIC = re.compile(r"\bThe (?:same )?guidelines?(?P<where>, (?:pages?|MTUS) [^,]{1,30},)? (?:also )?(?P<verb>state|say|note|recommend|require)s?\b")


_PAGE_OF_GENERIC = re.compile(r"\b(?P<where>[Pp]ages? \d+(?:\s*(?:-|,|and)\s*\d+)*) of the (?:same )?guidelines?\b")


# a single page before a guideline's name is the sentence's subject: "Page 8 of the ... Guidelines (2009) states"
_ONE_PAGE_OF = r"\b[Pp]age \d+ of (?:the )?"
_EDITION = r"(?:, \w+ Edition)?(?: \(\d{4}\))?"  # "Guidelines, 2nd Edition (2004)", "Guidelines (2009)"
_VERBS = r"(state|say|note|recommend|require)"
_PAGE_OF_GUIDELINES_STATE = re.compile(rf"({_ONE_PAGE_OF}[^.;]{{0,80}}?Guidelines{_EDITION}) {_VERBS}(?![a-z])")
_GUIDELINES_STATES = re.compile(rf"(\bGuidelines{_EDITION}(?:, pages? [\d, -]+,)?) {_VERBS}s\b")


def guidelines_verb(body: str) -> str:
    """"The MTUS Chronic Pain Medical Treatment Guidelines (2009), page 8, state" (the model writes "states"):
    `agreeing_verb`'s rule, applied to prose where the name is not known in advance. "Page 8 of the ... Guidelines
    (2009) states" keeps its verb: the page is the subject."""
    def fix(m: re.Match) -> str:
        sentence_so_far = re.split(r"[.!?]\s", body[:m.start()])[-1]
        if re.search(rf"{_ONE_PAGE_OF}[^,;]*$", sentence_so_far):
            return m.group(0)
        return f"{m.group(1)} {m.group(2)}"
    return _PAGE_OF_GUIDELINES_STATE.sub(r"\1 \2s", _GUIDELINES_STATES.sub(fix, body))


_GUIDELINE_NAMED = re.compile(rf"\b(?:Guidelines?{_EDITION}|[Tt]he (?:same )?guidelines?)(?=[\s,])")


def name_the_pages(body: str, argument: Argument, s: CheckSettings) -> str:
    """A letter names the page of each requirement it states. A point whose page the prose never names gets it in
    the sentence that takes the point up, after the guideline's name there ("The ... Guidelines (2009), pages 98-99,
    state"), else at the sentence's end ("... (page 99)."); a sentence that already names a page is left alone."""
    sentences = split_sentences(body)
    for p in argument.points:
        pages = page_numbers(p.where)
        if not pages or pages & pages_named(" ".join(sentences)):
            continue
        for i, sent in enumerate(sentences):
            if pages_named(sent) or not covers(sent, p, argument.points, s):
                continue
            m = _GUIDELINE_NAMED.search(sent)
            if m is not None:
                sentences[i] = f"{sent[:m.end()]}, {p.where},{sent[m.end():]}"
            else:
                sentences[i] = re.sub(r"([.!?][\"\u201d']?)$", rf" ({p.where})\1", sent, count=1)
            break
    return " ".join(sentences)


def name_the_guideline_first(body: str, argument: Argument) -> str:
    """A letter names the guideline in full before it says "the guideline". Prose that opens "The guideline, page 78,
    states" before any full name gets the full name of the point cited there (else the argument's first source)."""
    if not argument.sources:
        return body
    generic, page_first = _GENERIC.search(body), _PAGE_OF_GENERIC.search(body)
    m = min((x for x in (generic, page_first) if x is not None), key=lambda x: x.start(), default=None)
    if m is None:
        return body
    names = [src.split(" (")[0].removeprefix("MTUS ").lower() for src in argument.sources]
    if any(0 <= body.lower().find(n) < m.start() for n in names):
        return body
    where = (m.group("where") or "").strip(" ,")
    source = next((p.source for p in argument.points if where and p.where and p.where.lower() == where.lower() and p.source),
                  argument.sources[0])
    if m is page_first:  # "Page 8 of the same guidelines states" opening the prose
        return body[:m.start()] + f"{m.group('where')} of the {source}" + body[m.end():]
    return body[:m.start()] + f"The {source}{m.group('where') or ''} {agreeing_verb(source, m.group('verb') + 's')}" + body[m.end():]


def asked_for(guidance: str, case_text: str, limit: int) -> list[str]:
    """Record sentences holding a date the reviewer's guidance names ("mention the UDS from 01/07/2019"), as points
    the prose may use: the guidance asks for them, and the records, not the guidance, say what they hold."""
    from drafter.dates import dates_in

    wanted = {d for _, d in dates_in(guidance or "")}
    if not wanted:
        return []
    held = [x for x in split_sentences(case_text) if wanted & {d for _, d in dates_in(x)}]
    return [f'The records also state: "{x.strip()}"' for x in held[:limit]]


def _sampling(settings: Settings, attempt: int, regenerate: int) -> dict:
    """The first attempt uses the configured sampling; re-asks and Regenerate sample with another seed."""
    return resample(None, settings.checks.retry_temperature, 101 * regenerate + attempt, settings.llm.seed)


def draft_rationale(
    chat: BaseChatModel | None,
    settings: Settings,
    prompts: PromptLibrary,
    argument: Argument,
    findings: list[str],
    passages: list[Hit],
    case_text: str,
    request_date: dt.date | None,
    topics: dict[str, TopicMeta],
    guidance: str = "",
    regenerate: int = 0,
) -> DraftedRationale:
    """LLM rationale for a decided item that passes the output checks and grounding; the template otherwise."""
    views = passage_views(passages)
    ids = [v.chunk_id for v in views]
    retrieved = set(ids)
    by_id = {h.chunk_id: h for h in passages}
    bullets = argument.bullets()
    sources = "\n".join(f"{v.citation}\n{v.text}" for v in views) + "\n" + case_text + "\n" + argument.item + "\n" + " ".join(bullets + findings)
    pages = {p for v in views for p in v.pages}
    base_ids = [c for c in argument.chunk_ids if c in retrieved] or ids[:1]
    notes: list[str] = []
    attempts: list[Attempt] = []
    gen: Generation | None = None
    user = ""
    if chat is not None and argument.decision != "needs_review" and views:
        user = prompts.render(
            "rationale", item=argument.item, request_date=str(request_date or "unknown"), decision_word=DECISION_WORD[argument.decision],
            necessity_phrase=NECESSITY[argument.decision], passages=views,
            argument=[curly_quotes(b) for b in (bullets or findings) + asked_for(guidance, case_text, settings.checks.guidance_sentences)],
            guidance=guidance,
        )
        for attempt in range(settings.checks.attempts):
            sampling = _sampling(settings, attempt, regenerate)
            gen = generate_structured(chat, settings.llm.backend, prompts.render("system"), user, RationaleOut, rationale_schema(ids),
                                      settings.llm.max_tokens_rationale, settings.llm.retries, sampling=sampling,
                                      retry_temperature=settings.checks.retry_temperature)
            if gen.value is None:
                why = f" ({gen.errors[-1][:160]})" if gen.errors else ""
                attempts.append(Attempt(gen.raw, [f"malformed output after {gen.attempts} tries{why}"], sampling))
                continue
            out: RationaleOut = gen.value  # type: ignore[assignment]
            cited = [c for c in dict.fromkeys(base_ids + out.cited_chunk_ids) if c in retrieved]
            cited_pages = {p for v in views if v.chunk_id in cited for p in v.pages} or pages
            report = ground(_strip_conclusions(straight_quotes(out.rationale)), sources, cited_pages, out.cited_chunk_ids, retrieved)
            problems = [f"ungrounded: {w} ({x[:60]!r})" for x, w in report.dropped]
            body = report.text
            missing = uncovered(body, argument, settings.checks)
            added = []
            if missing and engages(body, argument, settings.checks):
                # prose that carries part of the argument is kept; the points it left out are stated after it, so
                # the draft is never weaker than its argument
                body = complete(body, missing)
                added = missing
            body = guidelines_verb(name_the_guideline_first(name_the_pages(body, argument, settings.checks), argument))
            checks = run_checks(body, argument, [by_id[c] for c in cited], topics, request_date, settings.checks)
            problems = [f"{c.name}: {c.reason}" for c in failures(checks)] + problems
            asked = check_guidance(body, guidance, case_text) if guidance else None
            if asked is not None and not asked.passed:
                problems.append(f"{asked.name}: {asked.reason}")
            attempts.append(Attempt(gen.raw, problems, sampling))
            if failures(checks) or report.invalid_citations:
                continue
            if asked is not None and not asked.passed:
                if attempt < settings.checks.attempts - 1:
                    continue  # sample again for the reviewer's guidance; the last attempt is kept and says so
                notes.append(f"the reviewer's guidance was not followed: {asked.reason}")
            if added:
                notes.append(f"{len(added)} point(s) of the argument the model left out were added in template sentences")
            text = (body + " " + argument.conclusion).strip()
            return DraftedRationale(text, cited, False, report, checks, attempts, gen, notes, user)
        notes += [f"model attempt {i + 1}: " + "; ".join(a.problems) for i, a in enumerate(attempts) if a.problems]
    text = fallback_rationale(prompts, argument, findings)
    # the fixed conclusion is the code's own sentence, as on the model path (grounded there without it); a page
    # the template names must be a page of a passage it cites, not of any passage retrieval returned
    cited_pages = {p for v in views if v.chunk_id in base_ids for p in v.pages} or pages
    report = ground(text.replace(argument.conclusion, ""), sources, cited_pages, base_ids, retrieved)
    if report.dropped:
        notes.append("the template restated something the sources do not hold: " + "; ".join(w for _, w in report.dropped))
    checks = (run_checks(text, argument, [by_id[c] for c in base_ids if c in by_id], topics, request_date, settings.checks)
              if argument.points else [])  # without a governing topic the text only hands the item to the reviewer
    return DraftedRationale(text, base_ids, True, report, checks, attempts, gen, notes, user)
