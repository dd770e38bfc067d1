"""Case summary metrics: does the summary read like a signed letter's, and does it tell what the records state.

- summary_voice: the share of sentences that are whole letter sentences (capitalised start, final period, no copied
  field label, ellipsis, heading or list number, no leading connective such as "Thus far,").
- summary_coverage: of the elements the records state (applicant, injury, treatment, findings with dates,
  diagnoses, medications, work status, request, UR decision with its date), the share the summary states.
- summary_order: the share of consecutive element sentences that follow the letter's order.

The patterns are data (`metric` and `connectives` in drafter/data/summary.yaml).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import yaml

from drafter.dates import DATE
from drafter.errors import ConfigError
from drafter.metrics import MetricResult

# A sentence ends at . ! ? (and a closing quote or bracket) before a capital, a digit or an opening quote,
# except after common abbreviations; a blank line always ends one.
_SPLIT = re.compile(r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bNo\.)(?<!\bvs\.)(?<!\bSt\.)(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"(\[])|\n\s*\n")
# which element a sentence states, most specific first (a UR sentence also names the request)
_CLASSIFY = ["utilization_review", "request", "applicant", "treatment", "work_status", "medications", "diagnoses", "findings", "injury"]


@lru_cache(maxsize=1)
def _rules() -> dict:
    try:
        data = yaml.safe_load(resources.files("drafter.data").joinpath("summary.yaml").read_text(encoding="utf-8"))
        metric = data["metric"]
        conn = data["connectives"]
        return {
            "not_voice": {k: re.compile(v) for k, v in metric["not_voice"].items()},
            "connective": re.compile(r"^(?:" + "|".join(re.escape(c) for c in conn) + r")\b\s*,?", re.I),
            "elements": {k: {side: re.compile(p.replace("{DATE}", DATE), re.I) for side, p in v.items()}
                         for k, v in metric["elements"].items()},
        }
    except (OSError, KeyError, TypeError, re.error, yaml.YAMLError) as exc:
        raise ConfigError(f"drafter/data/summary.yaml: the metric section is not valid ({exc}); fix the file.") from exc


def split_sentences(text: str) -> list[str]:
    """The sentences of a summary as a reader sees them."""
    return [s.strip() for s in _SPLIT.split(text.strip()) if s and s.strip()]


def sentence_faults(sentence: str) -> list[str]:
    """Why a sentence is not a whole sentence of a letter ([] when it is one)."""
    r = _rules()
    s = sentence.strip()
    faults = []
    first = s.lstrip("\"'([")[:1]
    if not first.isupper():
        faults.append("does not start with a capital letter")
    if not re.search(r"\.[\"')\]]?$", s):
        faults.append("no final period")
    if r["connective"].match(s):
        faults.append("starts with a connective")
    faults += [name for name, rx in r["not_voice"].items() if rx.search(s)]
    return faults


def summary_voice(text: str) -> MetricResult:
    """Share of the summary's sentences that are whole sentences of a signed letter."""
    sents = split_sentences(text)
    if not sents:
        return MetricResult(value=None, reason="the summary is empty")
    bad = [(s, f) for s in sents if (f := sentence_faults(s))]
    value = round(1 - len(bad) / len(sents), 3)
    if not bad:
        return MetricResult(value=value, reason=f"all {len(sents)} sentences are whole letter sentences")
    shown = "; ".join(f"{', '.join(f)}: {s[:70]!r}" for s, f in bad[:3])
    return MetricResult(value=value, reason=f"{len(bad)} of {len(sents)} sentences are not whole letter sentences ({shown})")


def element_of(sentence: str) -> str | None:
    """The summary element a sentence states (None when it states none the metric knows)."""
    els = _rules()["elements"]
    return next((e for e in _CLASSIFY if e in els and els[e]["summary"].search(sentence)), None)


def summary_coverage(text: str, record_text: str, items: list[str] | None = None) -> MetricResult:
    """Of the elements the records state, the share the summary states; the reason names the missing ones."""
    els = _rules()["elements"]
    stated = [e for e, rx in els.items() if (e == "request" and items) or (e != "request" and rx["record"].search(record_text))]
    if not stated:
        return MetricResult(value=None, reason="the records state none of the summary's elements")
    sents = split_sentences(text)
    have = [e for e in stated if any(els[e]["summary"].search(s) for s in sents)]
    missing = [e for e in stated if e not in have]
    value = round(len(have) / len(stated), 3)
    return MetricResult(value=value, reason=f"{len(have)} of {len(stated)} stated elements present"
                        + (f"; missing: {', '.join(missing)}" if missing else ""))


def summary_order(text: str, order: list[str] | None = None) -> MetricResult:
    """Share of consecutive element sentences whose elements follow the letter's order."""
    order = order or ["applicant", "injury", "treatment", "findings", "diagnoses", "medications", "work_status", "request",
                      "utilization_review"]
    rank = {e: i for i, e in enumerate(order)}
    seq = [rank[e] for s in split_sentences(text) if (e := element_of(s)) in rank]
    pairs = list(zip(seq, seq[1:]))
    if not pairs:
        return MetricResult(value=None, reason="fewer than two sentences state a known element")
    out = [(a, b) for a, b in pairs if b < a]
    value = round(1 - len(out) / len(pairs), 3)
    return MetricResult(value=value, reason="in the letter's order" if not out else
                        f"{len(out)} of {len(pairs)} steps go back (e.g. {order[out[0][0]]} before {order[out[0][1]]})")
