"""Case understanding: the facts a decision rests on, read from the records by a medspaCy pipeline
whose every rule is data (`rules/*.yaml` per fact, `lexicon/*.yaml` for sections, ConText cues,
treatments and opioid conversion factors)."""

from drafter.facts.finder import FactFinder
from drafter.facts.schema import Evidence, Fact, FactRule

Span = Evidence  # the evidence a criterion rests on

__all__ = ["Evidence", "Fact", "FactFinder", "FactRule", "Span"]
