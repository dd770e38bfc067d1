"""report.md and report.html (self-contained: inline SVG plots, no network, no plotting library)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

HEADLINE = [
    ("decision_accuracy", "Decision accuracy"), ("decision_macro_f1", "Macro-F1"), ("decision_kappa", "Cohen's kappa"),
    ("overturn_recall", "Overturn recall"), ("citation_page_precision_micro", "Citation page precision"),
    ("citation_page_recall_micro", "Citation page recall"), ("citation_topic_precision_micro", "Citation topic precision"),
    ("citation_topic_recall_micro", "Citation topic recall"), ("rouge_l", "ROUGE-L"), ("embedding_cosine", "Embedding cosine"),
    ("key_fact_recall", "Key-fact recall"), ("grounded_fraction", "Grounded fraction"),
    ("unretrieved_citations", "Citations not retrieved"), ("latency_s", "Latency per item (s)"), ("tokens", "Tokens per item"),
]


def _fmt(entry: Any) -> str:
    if not isinstance(entry, dict) or entry.get("value") is None:
        return "-"
    v = entry["value"]
    extra = f" (p50 {entry['p50']:.2f}, p95 {entry['p95']:.2f})" if "p95" in entry else ""
    return (f"{v:.3f}" if isinstance(v, float) else str(v)) + extra


def write_markdown(path: Path, metrics: dict[str, Any], prov: dict[str, Any]) -> None:
    systems = list(metrics)
    lines = [
        "# IMR Drafter evaluation", "",
        f"- model: `{prov['model']}`; prompts `{prov['prompt_version']}`; corpus `{prov['corpus_version']}`; git `{prov['git_commit'][:12]}`",
        f"- letters: `{prov['letters_dir']}`; run: {prov['run']}", "",
        "Upheld is about 89% of real letters, so accuracy alone flatters a system that always upholds: read kappa, "
        "macro-F1 and overturn recall beside it.", "",
        "| metric | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems),
    ]
    for key, label in HEADLINE:
        lines.append(f"| {label} | " + " | ".join(_fmt(metrics[s].get(key)) for s in systems) + " |")
    lines += ["", "## Confusion matrices (rows: letter, columns: draft)", ""]
    for s in systems:
        m = metrics[s]["confusion"]
        cols = list(next(iter(m.values())).keys())
        lines += [f"**{s}**", "", "| letter \\ draft | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        lines += [f"| {g} | " + " | ".join(str(m[g][c]) for c in cols) + " |" for g in m]
        lines.append("")
    lines += ["## Accuracy by treatment category", "", "| category | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    cats = sorted({c for s in systems for c in metrics[s]["per_category_accuracy"]})
    for c in cats:
        cells = []
        for s in systems:
            e = metrics[s]["per_category_accuracy"].get(c)
            cells.append(f"{e['value']:.2f} (n={e['items']})" if e else "-")
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _bars(title: str, data: list[tuple[str, float]], width: int = 560, maxv: float = 1.0) -> str:
    h = 22 * len(data) + 40
    out = [f'<svg width="{width}" height="{h}" role="img" aria-label="{html.escape(title)}"><text x="0" y="16" font-weight="bold">{html.escape(title)}</text>']
    for i, (label, v) in enumerate(data):
        y = 30 + 22 * i
        w = 0 if maxv <= 0 else int((width - 230) * max(0.0, min(v, maxv)) / maxv)
        out.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label[:28])}</text>'
                   f'<rect x="200" y="{y}" width="{w}" height="16" fill="#4a7ab5"/><text x="{205 + w}" y="{y + 13}" font-size="12">{v:.2f}</text>')
    out.append("</svg>")
    return "".join(out)


def _confusion_svg(system: str, m: dict[str, dict[str, int]]) -> str:
    labels = list(m)
    cell = 70
    total = max(1, max(v for row in m.values() for v in row.values()))
    out = [f'<svg width="{110 + cell * len(labels)}" height="{60 + cell * len(labels)}" role="img" aria-label="confusion {system}">',
           f'<text x="0" y="14" font-weight="bold">{html.escape(system)}: letter (rows) vs draft (columns)</text>']
    for j, c in enumerate(labels):
        out.append(f'<text x="{110 + j * cell}" y="36" font-size="11">{c[:10]}</text>')
    for i, g in enumerate(labels):
        out.append(f'<text x="0" y="{70 + i * cell}" font-size="11">{g[:12]}</text>')
        for j, c in enumerate(labels):
            v = m[g][c]
            shade = int(245 - 170 * v / total)
            out.append(f'<rect x="{105 + j * cell}" y="{45 + i * cell}" width="{cell - 4}" height="{cell - 4}" fill="rgb({shade},{shade},255)"/>'
                       f'<text x="{125 + j * cell}" y="{80 + i * cell}">{v}</text>')
    out.append("</svg>")
    return "".join(out)


def _histogram(title: str, values: list[float], bins: int = 10) -> str:
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v * bins)))] += 1
    return _bars(title, [(f"{i / bins:.1f}-{(i + 1) / bins:.1f}", float(c)) for i, c in enumerate(counts)], maxv=max(counts + [1]))


def write_html(path: Path, metrics: dict[str, Any], prov: dict[str, Any], results: Path) -> None:
    systems = list(metrics)
    rows = "".join(f"<tr><td>{label}</td>" + "".join(f"<td>{_fmt(metrics[s].get(k))}</td>" for s in systems) + "</tr>" for k, label in HEADLINE)
    parts = [
        "<!doctype html><meta charset='utf-8'><title>IMR Drafter evaluation</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style>",
        "<h1>IMR Drafter evaluation</h1>",
        f"<p>model <code>{html.escape(prov['model'])}</code>, prompts <code>{html.escape(prov['prompt_version'])}</code>, corpus "
        f"<code>{prov['corpus_version']}</code>, git <code>{prov['git_commit'][:12]}</code>; run {html.escape(json.dumps(prov['run']))}</p>",
        "<table><tr><th>metric</th>" + "".join(f"<th>{s}</th>" for s in systems) + "</tr>" + rows + "</table>",
        "<h2>Confusion matrices</h2>", "".join(_confusion_svg(s, metrics[s]["confusion"]) for s in systems),
        "<h2>Accuracy by category</h2>",
    ]
    for s in systems:
        cats = metrics[s]["per_category_accuracy"]
        parts.append(_bars(f"{s}", [(f"{c} (n={e['items']})", e["value"]) for c, e in cats.items()]))
    dists: dict[str, dict[str, list[float]]] = {s: {"rouge_l": [], "grounded_fraction": []} for s in systems}
    from drafter.evaluation.scoring import iter_rows

    for r in iter_rows(results):
        for k in ("rouge_l", "grounded_fraction"):
            v = r["metrics"].get(k, {}).get("value")
            if v is not None and r["system"] in dists:
                dists[r["system"]][k].append(float(v))
    parts.append("<h2>Score distributions</h2>")
    for s in systems:
        for k, vals in dists[s].items():
            if vals:
                parts.append(_histogram(f"{s}: {k}", vals))
    path.write_text("\n".join(parts), encoding="utf-8")
