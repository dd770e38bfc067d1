"""The deciding facts a rationale names (rationale_facts.yaml), read with plain patterns fast enough for an archive."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import yaml
from pydantic import BaseModel, Field, field_validator

from drafter.corpus.schema import FACTS
from drafter.errors import QueryError


class FactReading(BaseModel):
    """One reading of one vocabulary fact, with the phrases that name it in a rationale."""

    fact: str
    reading: str
    label: str
    patterns: list[str] = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)

    @field_validator("fact")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in FACTS:
            raise ValueError(f"unknown fact {v!r}; use a key of drafter.corpus.schema.FACTS")
        return v

    @property
    def key(self) -> str:
        return f"{self.fact}={self.reading}"


class _Compiled:
    def __init__(self, readings: list[FactReading]) -> None:
        self.readings = readings
        self.regexes = [re.compile("|".join(f"(?:{p})" for p in r.patterns), re.I) for r in readings]
        self.by_key = {r.key: r for r in readings}


@lru_cache(maxsize=1)
def _rules() -> _Compiled:
    raw = yaml.safe_load(resources.files("drafter.precedents").joinpath("rationale_facts.yaml").read_text(encoding="utf-8"))
    return _Compiled([FactReading.model_validate(x) for x in raw["facts"]])


def readings() -> list[FactReading]:
    return list(_rules().readings)


def _norm(text: str) -> str:
    t = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(t.split())


def read_facts(text: str) -> list[str]:
    """`fact=reading` keys the text names, one reading per fact (the first listed in the YAML wins)."""
    rules = _rules()
    flat = _norm(text)
    seen: set[str] = set()
    out: list[str] = []
    for r, rx in zip(rules.readings, rules.regexes):
        if r.fact in seen:
            continue
        if rx.search(flat):
            seen.add(r.fact)
            out.append(r.key)
    return out


def label(key: str) -> str:
    r = _rules().by_key.get(key)
    return r.label if r else key.replace("_", " ").replace("=", ": ")


def parse_fact_args(values: list[str] | None) -> list[str]:
    """A query's --facts: `fact=reading` keys as given, or words read with the rationale patterns."""
    rules = _rules()
    out: list[str] = []
    for v in values or []:
        v = v.strip()
        if not v:
            continue
        if "=" in v and " " not in v.split("=", 1)[0]:
            fact, _, reading = v.partition("=")
            if fact not in FACTS:
                raise QueryError(f"--facts {v!r}: unknown fact {fact!r}. Use one of: {', '.join(sorted(FACTS))}; "
                                 "or describe it in words, e.g. --facts 'no functional improvement'.")
            out.append(f"{fact}={reading.strip()}")
            continue
        found = read_facts(v)
        if not found:
            known = "; ".join(f"{r.key} ({r.label})" for r in rules.readings)
            raise QueryError(f"--facts {v!r}: no known fact in these words. Write fact=reading or words for one of: {known}.")
        out.extend(found)
    return list(dict.fromkeys(out))


def fact_sentences(text: str, keys: list[str], limit: int) -> str:
    """The sentences of a rationale that name the given facts (in order), cut to `limit` characters; the
    opening of the rationale when none does."""
    rules = _rules()
    regexes = [rx for r, rx in zip(rules.readings, rules.regexes) if r.key in keys]
    flat = _norm(text)
    picked = [s for s in re.split(r"(?<=[.;])\s+(?=[A-Z])", flat) if any(rx.search(s) for rx in regexes)] if regexes else []
    out = " ... ".join(picked) if picked else flat
    return out if len(out) <= limit else out[: limit - 3].rsplit(" ", 1)[0] + "..."
