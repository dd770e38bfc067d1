"""Instruction-like text in case records (prompt injection): found by data rules, never evidence, always shown.

Decisions are rules over facts, so planted text cannot change one; the fact layer still skips these
sentences (a planted "the records document functional improvement" is not a record of it), and every
draft names each one in its warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")


@dataclass(frozen=True)
class Instruction:
    document: str
    start: int
    end: int
    quote: str
    why: str

    def warning(self) -> str:
        return (f"Instruction-like text in {self.document} was not used as evidence ({self.why}): "
                f"\"{self.quote[:200]}\"")


@lru_cache(maxsize=1)
def _rules() -> list[tuple[list[re.Pattern], str]]:
    """Each rule is one regex, or `all_of` several that must all match the sentence (an addressee or directive
    and a decision word, in any wording)."""
    data = yaml.safe_load(resources.files("drafter").joinpath("data/instructions.yaml").read_text(encoding="utf-8"))
    return [([re.compile(x, re.I) for x in (r["all_of"] if "all_of" in r else [r["regex"]])], r["why"]) for r in data["patterns"]]


_BROKEN_WORD = re.compile(r"([a-z])-[ \t]*\n[ \t]*([a-z])")


def find_instructions(document: str, text: str) -> list[Instruction]:
    """Every sentence of `text` that addresses an AI or the reviewer or tells the reader what to decide."""
    out: list[Instruction] = []
    # a word broken over a line ("any automat-\ned reviewer") keeps its sentence: the line break becomes a space
    # (offsets unchanged), and the rules read the word whole
    whole = _BROKEN_WORD.sub(lambda b: b.group(0).replace("\n", " "), text)
    for m in _SENTENCE.finditer(whole):
        sent = text[m.start():m.end()]
        stripped = sent.strip()
        if len(stripped) < 8:
            continue
        joined = re.sub(r"([a-z])-[ \t]+([a-z])", r"\1\2", m.group(0).strip())
        for rxs, why in _rules():
            if all(rx.search(joined) for rx in rxs):
                lead = len(sent) - len(sent.lstrip())
                out.append(Instruction(document, m.start() + lead, m.end(), " ".join(sent.split()), why))
                break
    return out
