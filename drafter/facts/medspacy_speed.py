"""Faster equivalents of two medspaCy internals, with the same results (tests compare them with the stock ones).

On a ten-page case the stock TargetMatcher rebuilt the doc's text for each of our ~600 regex patterns, and
ConText compared every modifier with every target and every other modifier of the whole document, although a
modifier's scope never leaves its sentence. Together these were about 60% of the fact layer's time.

Case-insensitive matching then took about half of the matcher's time: Python's re folds case at every position it
tries. Our patterns are written in lower case, so they run case-sensitively over the lower-cased text, which
finds the same spans whenever lower-casing keeps every character in place."""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

# characters that re.IGNORECASE folds onto an ASCII letter although str.lower() does not give that letter
# (dotted and dotless i, long s, Kelvin sign): a text holding one is matched the stock way
_FOLDS_ONTO_ASCII = frozenset("\u0130\u0131\u017f\u212a")
_ESCAPES_AND_FLAGS = re.compile(r"\\[A-Za-z]|\(\?P?<[^>]*>|\(\?[aiLmsux-]+\)")


def lower_case_twin(pattern: re.Pattern) -> re.Pattern | None:
    """The case-sensitive pattern that finds on lower-cased text what `pattern` (IGNORECASE) finds on the text;
    None when the pattern is not case-insensitive or spells an upper-case letter."""
    if not pattern.flags & re.IGNORECASE or re.search(r"[A-Z]", _ESCAPES_AND_FLAGS.sub("", pattern.pattern)):
        return None
    return re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE)


def lowered_in_place(text: str) -> str | None:
    """text.lower() when every character keeps its offset and case folding adds no match; else None."""
    low = text.lower()
    if len(low) != len(text) or (not text.isascii() and _FOLDS_ONTO_ASCII.intersection(text)):
        return None
    return low


@lru_cache(maxsize=1)
def one_pass_regex_matcher() -> type:
    """medspaCy's RegexMatcher reading the doc's text and token offsets once per doc."""
    from medspacy.common.regex_matcher import RegexMatcher

    class OnePassRegexMatcher(RegexMatcher):
        def __call__(self, doc):
            text = doc.text_with_ws
            low = lowered_in_place(text)
            twins = self.__dict__.setdefault("_lower_twins", {})
            starts = [t.idx for t in doc]
            n = len(starts)

            def token_at(char: int, resolve: str) -> int | None:
                # exactly medspacy.common.util.get_token_for_char, as an index, by bisection
                j = bisect_left(starts, char)
                if j < n and starts[j] == char:
                    return j
                if j < n:
                    return (j - 1) % n if resolve == "left" else j
                return n - 1 if resolve == "left" else None

            matches = []
            for match_id, patterns in self._patterns.items():
                on_match = self._callbacks[match_id]
                for pattern in patterns:
                    if low is not None:
                        if pattern not in twins:
                            twins[pattern] = lower_case_twin(pattern)
                        twin = twins[pattern]
                        found = twin.finditer(low) if twin is not None else pattern.finditer(text)
                    else:
                        found = pattern.finditer(text)
                    for m in found:
                        span = doc.char_span(m.start(), m.end())
                        if span is None:
                            start = token_at(m.start(), self.resolve_start)
                            end = token_at(m.end(), self.resolve_end)
                            span = doc[start: n if end is None else end]
                        if len(span):
                            matches.append((match_id, span.start, span.end))
                        if on_match is not None:
                            on_match(self, doc, len(matches) - 1, matches)
            return matches

    return OnePassRegexMatcher


@lru_cache(maxsize=1)
def sentence_context_graph() -> type:
    """medspaCy's ConTextGraph comparing only what can interact: modifiers of one sentence with each other, and a
    modifier with the targets that overlap its sentence. Scopes lie inside the modifier's sentence, so every pair
    skipped is one the stock graph found not to interact; the pairs kept are visited in the stock order."""
    from medspacy.context.context_graph import ConTextGraph
    from medspacy.util import tuple_overlaps

    class SentenceContextGraph(ConTextGraph):
        doc = None  # set by the ConText call that builds the graph

        def _sentence_of(self, modifier) -> tuple[int, int]:
            sent = self.doc[modifier._start].sent
            return sent.start, sent.end

        def update_scopes(self):
            by_sentence: dict[tuple[int, int], list] = {}
            for m in self.modifiers:
                by_sentence.setdefault(self._sentence_of(m), []).append(m)
            for group in by_sentence.values():
                for i in range(len(group) - 1):
                    for j in range(i + 1, len(group)):
                        group[i].limit_scope(group[j])
                        group[j].limit_scope(group[i])

        def _near(self, start: int, end: int, order: list[int], starts: list[int], max_len: int) -> list[int]:
            """Indices (in target order) of the targets sharing a token with [start, end): a superset of those the
            stock graph's tests (medspaCy's one-sided `tuple_overlaps`) can accept there."""
            lo = bisect_left(starts, start - max_len)
            hi = bisect_left(starts, end)
            return sorted(order[k] for k in range(lo, hi) if self.targets[order[k]].end > start)

        def apply_modifiers(self):
            targets = list(self.targets)
            order = sorted(range(len(targets)), key=lambda k: targets[k].start)
            starts = [targets[k].start for k in order]
            max_len = max((t.end - t.start for t in targets), default=0)
            if self.prune_on_modifier_overlap:
                for i in range(len(self.modifiers) - 1, -1, -1):
                    span = self.modifiers[i].modifier_span
                    if any(tuple_overlaps((targets[k].start, targets[k].end), span) for k in self._near(*span, order, starts, max_len)):
                        self.modifiers.pop(i)
            # the stock loop is targets outer, modifiers inner: per modifier, targets arrive in target order
            for modifier in self.modifiers:
                s, e = self._sentence_of(modifier)
                for k in self._near(s, e, order, starts, max_len):
                    if modifier.modifies(targets[k]):
                        modifier.modify(targets[k])
            edges = []
            for modifier in self.modifiers:
                modifier.reduce_targets()
                for target in modifier._targets:
                    edges.append((target, modifier))
            self.edges = edges

    return SentenceContextGraph


@lru_cache(maxsize=1)
def sentence_context() -> type:
    """medspaCy's ConText building the sentence-local graph (its __call__, with that one change)."""
    from medspacy.context import ConText
    from medspacy.context.context_modifier import ConTextModifier

    graph_class = sentence_context_graph()

    class SentenceConText(ConText):
        def __call__(self, doc, targets=None):
            if not targets and self.input_span_type == "ents":
                targets = doc.ents
            elif not targets and self.input_span_type == "group":
                targets = doc.spans[self.span_group_name]
            elif targets:
                targets = getattr(doc._, targets)
            graph = graph_class(prune_on_modifier_overlap=self.prune_on_target_overlap)
            graph.doc = doc
            graph.targets = targets
            matcher = self._ConText__matcher
            graph.modifiers = [ConTextModifier(matcher.rule_map[self.nlp.vocab[match_id].text], start, end, doc, max_scope=self.max_scope)
                               for match_id, start, end in matcher(doc)]
            graph.update_scopes()
            graph.apply_modifiers()
            for target, modifier in graph.edges:
                target._.modifiers += (modifier,)
            if self.context_attributes_mapping:
                self.set_context_attributes(graph.edges)
            graph.doc = None  # the doc holds the graph; no cycle back
            doc._.context_graph = graph
            return doc

    return SentenceConText


def speed_up(component) -> None:
    """Swap the regex matcher inside a medspaCy TargetMatcher or ConText for the one-pass one, and give ConText the
    sentence-local graph."""
    for attr in ("_TargetMatcher__matcher", "_ConText__matcher"):
        inner = getattr(component, attr, None)
        regex = getattr(inner, "_MedspacyMatcher__regex_matcher", None)
        if regex is not None:
            regex.__class__ = one_pass_regex_matcher()
    from medspacy.context import ConText

    if type(component) is ConText and component.max_scope is None:  # a window scope may cross sentences
        component.__class__ = sentence_context()
