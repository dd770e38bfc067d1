"""Rationale metrics: ROUGE-L against the reviewer's rationale, embedding cosine, key-fact recall."""

from __future__ import annotations

import re

from drafter.metrics import MetricResult

_WORD = re.compile(r"[a-z0-9]+(?:[./][a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Longest common subsequence length, O(len(a) * len(b)) time, O(len(b)) memory."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(reference: str, candidate: str) -> MetricResult:
    """ROUGE-L F1 (beta = 1) over word tokens."""
    r, c = tokens(reference), tokens(candidate)
    if not r or not c:
        return MetricResult(value=0.0 if r else None, reason="empty rationale" if r else "the letter has no rationale")
    lcs = lcs_length(r, c)
    p, rec = lcs / len(c), lcs / len(r)
    f = 2 * p * rec / (p + rec) if p + rec else 0.0
    return MetricResult(value=f, reason=f"LCS {lcs} words; precision {p:.3f}, recall {rec:.3f}")


_FACT_PATTERNS = [
    r"\b\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?\s*(?:mg|mcg|%|visits?|sessions?|weeks?|months?|days?|hours?)\b",
    r"\bpages?\s+\d+(?:\s*-\s*\d+)?",
    r"\b\d+\s*(?:x|times)\s*\d+\b",
    r"#\s*\d+",
]


def _normal(text: str) -> str:
    """Lower case, one space, 'pages 78 to 80' / 'pages 78–80' written 'page 78-80', as key facts are."""
    low = " ".join(text.lower().split()).replace("\u2013", "-").replace("\u2014", "-")
    low = re.sub(r"\bpages?\s+(\d+)(?:\s*(?:-|to|through)\s*(\d+))?", lambda m: f"page {m.group(1)}" + (f"-{m.group(2)}" if m.group(2) else ""), low)
    return low


def key_facts(text: str, drug_names: set[str]) -> set[str]:
    """Numbers with units, visit counts, page references and drug names a rationale relies on."""
    low = _normal(text)
    facts = {re.sub(r"\s+", " ", m.group(0)) for p in _FACT_PATTERNS for m in re.finditer(p, low)}
    facts |= {d for d in drug_names if re.search(rf"(?<![a-z]){re.escape(d)}(?![a-z])", low)}
    return facts


_PAGE_FACT = re.compile(r"^page (\d+)(?:-(\d+))?$")


def _pages_named(text: str) -> set[int]:
    """Every page a normalised text names, ranges expanded ("page 78-80" -> 78, 79, 80)."""
    out: set[int] = set()
    for m in re.finditer(r"\bpage (\d+)(?:-(\d+))?", text):
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if a <= b <= a + 30:
            out.update(range(a, b + 1))
    return out


def _whole(fact: str, text: str) -> bool:
    """The fact as a whole: not "page 9" inside "page 99", nor "page 78" inside "page 78-80"."""
    return re.search(rf"(?<![\d.]){re.escape(fact)}(?![\d-])", text) is not None


def key_fact_recall(reference: str, candidate: str, drug_names: set[str]) -> MetricResult:
    gold = key_facts(reference, drug_names)
    if not gold:
        return MetricResult(value=None, reason="the letter's rationale names no numbers, pages or drugs")
    cand = _normal(candidate)
    squeezed = re.sub(r"\s", "", cand)
    named = _pages_named(cand)

    def has(f: str) -> bool:
        # a page fact is found when the draft names its first and last page, however it groups them ("page 78" and
        # "page 80", or "pages 76-80", for the letter's "pages 78-80"; "pages 98-99" for its "page 99")
        m = _PAGE_FACT.match(f)
        if m and {int(m.group(1)), int(m.group(2) or m.group(1))} <= named:
            return True
        # otherwise the fact as a whole: "page 9" is not found in "page 99", nor "10 visits" in "110 visits"
        return _whole(f, cand) or _whole(re.sub(r"\s", "", f), squeezed)

    found = {f for f in gold if has(f)}
    missing = sorted(gold - found)
    return MetricResult(value=len(found) / len(gold), reason=f"{len(found)} of {len(gold)} key facts" + (f"; missing {missing[:6]}" if missing else ""))


def cosine(a: list[float], b: list[float]) -> MetricResult:
    num = sum(x * y for x, y in zip(a, b))
    da = sum(x * x for x in a) ** 0.5
    db = sum(y * y for y in b) ** 0.5
    if not da or not db:
        return MetricResult(value=None, reason="an empty text has no embedding")
    return MetricResult(value=num / (da * db), reason="cosine of MiniLM embeddings of the two rationales")
