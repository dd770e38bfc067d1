"""`imr-drafter` command line: ingest, search, quickstart, validate-corpus."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from drafter.errors import DrafterError, QueryError
from drafter.settings import Settings

SAMPLE_QUERY = "Additional physical therapy 3 x 4 to the lumbar spine"
SAMPLE_DATE = "2015-06-01"
SAMPLE_CASE = Path(__file__).resolve().parent.parent / "evals" / "cases" / "case-01-pt-continuation-lumbar"


def _print_hits(hits: list, as_json: bool) -> None:
    if as_json:
        print(json.dumps([h.to_json() for h in hits], indent=2))
        return
    for i, h in enumerate(hits, 1):
        print(f"{i}. [{h.score:.4f}] {h.citation}  <{h.chunk_id}>")
        print("   " + h.text.replace("\n", " ")[:300])


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from drafter.ingest import ingest_corpus, ingest_pdf, open_index
    from drafter.retrieval import parse_date

    index = open_index(settings, for_indexing=True)
    t0 = time.perf_counter()
    if args.file:
        if not args.guideline or not args.edition:
            raise QueryError("Ingesting a PDF needs --guideline NAME and --edition E.")
        report = ingest_pdf(
            index, Path(args.file), args.guideline, args.edition,
            parse_date(args.effective_from), parse_date(args.effective_to),
        )
    else:
        report = ingest_corpus(index, Path(args.corpus) if args.corpus else None, rebuild=args.rebuild)
    print(f"{report.summary()} in {time.perf_counter() - t0:.1f} s; index holds {index.count()} chunks", file=sys.stderr)
    return 0


def _retriever(settings: Settings):
    from drafter.ingest import ensure_index, open_index
    from drafter.retrieval import HybridRetriever

    index = open_index(settings)
    synced = ensure_index(index)
    if synced.added_topics or synced.updated_topics or synced.removed_topics:
        print(f"Brought the index up to date with the corpus: {synced.summary()}", file=sys.stderr)
    return HybridRetriever(index, settings.retrieval)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from drafter.retrieval import check_query, parse_date

    if (args.text is None) == (args.queries is None):
        raise QueryError("Give either a query TEXT or --queries FILE.")
    date = parse_date(args.date)
    if args.text is not None:
        check_query(args.text, settings.retrieval.max_query_chars)
    elif not Path(args.queries).exists():
        raise QueryError(f"{args.queries}: no such file (one query per line).")
    retriever = _retriever(settings)
    if args.text is not None:
        _print_hits(retriever.search(args.text, k=args.k, date=date, mode=args.mode), args.json)
        return 0
    path = Path(args.queries)
    failures = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            hits = retriever.search(line, k=args.k, date=date, mode=args.mode)
            out = {"query": line, "hits": [h.to_json() for h in hits]}
        except QueryError as exc:
            failures += 1
            out = {"query": line, "error": str(exc), "hits": []}
        print(json.dumps(out), flush=True)
    return 1 if failures else 0


def cmd_quickstart(args: argparse.Namespace, settings: Settings) -> int:
    """The README's run command: build (or update) the index, answer a sample search, then draft a sample
    case with the embedded model (assembled into DRAFTER_HOME on first use)."""
    from drafter.chain import Drafter
    from drafter.ingest import ingest_corpus, open_index
    from drafter.model_assets import ensure_model_file
    from drafter.retrieval import HybridRetriever, parse_date

    t0 = time.perf_counter()
    index = open_index(settings, for_indexing=True)
    report = ingest_corpus(index)
    print(f"Index at {settings.index_dir}: {report.summary()} ({time.perf_counter() - t0:.1f} s)")
    index.embeddings.set_threads(settings.embedding.threads)
    retriever = HybridRetriever(index, settings.retrieval)
    query = args.query or SAMPLE_QUERY
    print(f"\nSample search: {query!r} (request date {SAMPLE_DATE})\n")
    _print_hits(retriever.search(query, date=parse_date(SAMPLE_DATE)), as_json=False)
    if args.no_draft:
        return 0
    if settings.llm.backend == "llamacpp":
        t1 = time.perf_counter()
        path = ensure_model_file(settings)
        print(f"\nEmbedded model: {path} (SHA-256 checked, {time.perf_counter() - t1:.1f} s)")
    case = Path(args.case) if args.case else SAMPLE_CASE
    print(f"\nDrafting the sample case {case.name} with {settings.llm.backend} (about a minute on 2 cores)...\n", flush=True)
    draft = Drafter(settings).draft(case)
    print(draft.letter_text)
    for it in draft.items:
        print(f"[{it.decision}] {it.item}: grounded {it.grounded_fraction:.2f}, fallback {it.fallback_used}, "
              f"citations {[c.chunk_id for c in it.citations]}")
    print(f"timings: {draft.timings_s}")
    return 0


def cmd_prepare(args: argparse.Namespace, settings: Settings) -> int:
    """Everything the app needs before it opens: the index in DRAFTER_HOME and the embedded model."""
    from drafter.ingest import ingest_corpus, open_index
    from drafter.model_assets import ensure_model_file

    t0 = time.perf_counter()
    report = ingest_corpus(open_index(settings, for_indexing=True))
    print(f"Index at {settings.index_dir}: {report.summary()} ({time.perf_counter() - t0:.1f} s)")
    if settings.llm.backend == "llamacpp":
        t1 = time.perf_counter()
        print(f"Embedded model: {ensure_model_file(settings)} (SHA-256 checked, {time.perf_counter() - t1:.1f} s)")
    return 0


def cmd_draft(args: argparse.Namespace, settings: Settings) -> int:
    """Draft a determination for a case file or folder."""
    from drafter.chain import Drafter
    from drafter.letters import write_docx
    from drafter.retrieval import parse_date

    if args.backend:
        settings.llm.backend = args.backend
    request_date = parse_date(args.request_date)
    if args.item is not None and any(not i.strip() for i in args.item):
        raise QueryError("An --item is empty; give the disputed treatment as the request words it.")
    drafter = Drafter(settings, use_llm=not args.no_llm)
    draft = drafter.draft(Path(args.case), items=args.item, request_date=request_date)
    if args.docx:
        write_docx(draft.letter_text, Path(args.docx))
    if args.json:
        print(draft.model_dump_json(indent=2))
    else:
        print(draft.letter_text)
    for w in draft.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def cmd_facts(args: argparse.Namespace, settings: Settings) -> int:
    """Every vocabulary fact with its status, value, evidence and context flags."""
    import json

    from drafter.facts.report import batch, case_facts
    from drafter.intake import load_case
    from drafter.retrieval import parse_date

    if args.batch:
        src = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
        with src:
            for row in batch(src):
                print(json.dumps(row))
        return 0
    if not args.case:
        raise QueryError("Give a case file or folder, or --batch FILE.jsonl.")
    case = load_case(Path(args.case), settings.intake, items=args.item, request_date=parse_date(args.request_date))
    out = case_facts(case, args.item or case.items or None)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        groups = out.get("items") or [{"item": None, "facts": out["facts"]}]
        for g in groups:
            print(f"== {g['item'] or 'case'} (request date {out['request_date'] or 'unknown'})")
            for f in g["facts"]:
                if f["status"] != "unknown" or f["evidence"]:
                    ev = f["evidence"][0] if f["evidence"] else None
                    flags = ",".join(k for k in ("negated", "historical", "hypothetical", "conflict") if f[k])
                    print(f"{f['name']:<44} {f['status']:<8} {'' if f['value'] is None else f['value']!s:<14} "
                          f"{flags:<12} {ev['document'] + ': ' + ev['quote'][:90] if ev else f['note'][:90]}")
        for w in out["warnings"]:
            print(f"warning: {w}", file=sys.stderr)
    return 0


def cmd_parse_letter(args: argparse.Namespace, settings: Settings) -> int:
    from drafter.letter_parser import parse_letter

    letter = parse_letter(Path(args.file))
    if args.json:
        print(letter.model_dump_json(indent=2))
    else:
        print(f"layout {letter.layout}; {len(letter.items)} item(s)")
        for it in letter.items:
            cites = "; ".join(f"{c.guideline} {c.section or ''} {c.pages or ''}".strip() for c in it.citations)
            print(f"- {it.item}: {it.decision} [{cites}]")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from drafter.evaluation.runner import check_gates, run_eval

    if args.target[0] == "compare":
        from drafter.evaluation.compare import (
            compare_runs, format_comparison, format_template_diff, format_text_changes, template_diff, text_changes,
        )

        if len(args.target) != 3:
            raise QueryError("Usage: imr-drafter eval compare RUN_A RUN_B [--text]")
        run_a, run_b = Path(args.target[1]), Path(args.target[2])
        print(format_comparison(compare_runs(run_a, run_b, args.system)))
        if args.text:
            try:
                print("\n" + format_template_diff(template_diff(run_a, run_b)))
            except DrafterError as exc:  # a run from before runs kept their templates: the text diff still works
                print(f"\n{exc}")
            print("\n" + format_text_changes(text_changes(run_a, run_b, args.system)))
        return 0
    if len(args.target) != 1 or not args.out:
        raise QueryError("Usage: imr-drafter eval LETTERS_DIR --out RUN_DIR [--backend NAME] [--prompts DIR] [--limit N] [--workers N]")
    if args.backend:
        settings.llm.backend = args.backend
    if args.prompts:
        settings.prompts_dir = Path(args.prompts)
    systems = tuple(args.systems.split(",")) if args.systems else ("full", "retrieval_only", "llm_no_retrieval", "always_uphold")
    if args.ray is not None or settings.eval.ray_address:
        from drafter.evaluation.ray_runner import run_eval_ray

        address = None if args.ray in (None, "local") else args.ray
        metrics = run_eval_ray(Path(args.target[0]), Path(args.out), settings, systems, args.limit, address=address,
                               num_cpus=args.workers if args.workers > 1 else None, progress=not args.quiet)
    else:
        metrics = run_eval(Path(args.target[0]), Path(args.out), settings, systems, args.limit, args.workers, progress=not args.quiet)
    names = ("decision_accuracy", "decision_kappa", "overturn_recall", "citation_page_recall_micro", "key_fact_recall", "rouge_l",
             "grounded_fraction", "degenerate_output", "fallback_used", "edition_errors")
    shown = [n for n in names if any(isinstance(m.get(n), dict) and m[n].get("value") is not None for m in metrics.values())]
    print(f"{'metric':28}" + "".join(f"{s:>16}" for s in metrics))
    for name in shown:
        cells = [m.get(name, {}).get("value") if isinstance(m.get(name), dict) else None for m in metrics.values()]
        print(f"{name:28}" + "".join(f"{v:>16.3f}" if v is not None else f"{'-':>16}" for v in cells))
    for system, m in metrics.items():
        nr = sum(row.get("needs_review", 0) for row in (m.get("confusion") or {}).values())
        print(f"{system}: {m.get('items', 0)} items, {nr} needs_review")
    print(f"reports: {Path(args.out) / 'report.md'}, {Path(args.out) / 'report.html'}")
    missed = check_gates(metrics, args.fail_under or [])
    for m in missed:
        print(f"gate missed: {m}", file=sys.stderr)
    return 1 if missed else 0


def cmd_letters(args: argparse.Namespace, settings: Settings) -> int:
    """`letters ingest DIR_OR_PDFS...`: past IMR letters into the precedent archive (incremental; bad files reported)."""
    from drafter.precedents.archive import LetterArchive

    archive = LetterArchive(settings, embeddings=_archive_embeddings(settings))
    if args.ray is not None:
        from drafter.precedents.ray_ingest import ingest_ray

        address = None if args.ray == "local" else args.ray
        report = ingest_ray([Path(p) for p in args.paths], settings, archive, address=address, num_cpus=args.workers)
    else:
        report = archive.ingest([Path(p) for p in args.paths])
    if args.json:
        print(json.dumps({**report.to_json(), "archive_items": archive.count()}, indent=2))
    else:
        print(f"{report.summary()}; the archive holds {archive.count()} items")
        rates = [f"{v:.0f} {u}" for v, u in ((report.letters_per_s_parsed, "letters/s parsed"), (report.items_per_s_embedded, "items/s embedded")) if v]
        if rates:
            print(", ".join(rates) + (" (per CPU)" if report.nodes else ""))
        if report.nodes:
            print(f"on Ray: letters per node {report.nodes}")
        for f in report.failed:
            print(f"failed: {f.path}: {f.reason}", file=sys.stderr)
    return 1 if report.failed and not (report.added_letters or report.unchanged_letters or report.updated_letters) else 0


def _archive_embeddings(settings: Settings):
    from drafter.embeddings import make_embeddings

    return make_embeddings(settings, for_indexing=True)


def cmd_precedents(args: argparse.Namespace, settings: Settings) -> int:
    """The nearest past items to a disputed item, and how IMR decided its family."""
    from drafter.precedents.archive import LetterArchive
    from drafter.precedents.search import find_precedents, parse_date_range

    date_range = parse_date_range(args.date_range)
    archive = LetterArchive(settings)
    if not archive.count():
        raise QueryError("The letter archive is empty. Ingest past letters first: imr-drafter letters ingest DIR_OR_PDFS...")
    res = find_precedents(args.item, facts=args.facts, date_range=date_range, k=args.k, archive=archive)
    if args.json:
        print(res.model_dump_json(indent=2))
        return 0
    print(res.outcomes.text)
    if res.family_outcomes:
        print(f"  (whole family: {res.family_outcomes.text})")
    if res.strong_majority:
        print(f"  strong majority: {res.strong_majority.decision} ({res.strong_majority.share:.0%} of {res.strong_majority.n:,})")
    for i, p in enumerate(res.precedents, 1):
        print(f"{i}. [{p.similarity:.3f} {p.scope}] {p.decision.upper()}: {p.item}  ({p.letter_name}, {p.letter_date or 'undated'})")
        print(f"   cited: {p.pages or '-'}")
        print(f"   {p.rationale_excerpt}")
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from drafter.corpus.validate import main as validate_main

    return validate_main([str(args.corpus or settings.corpus_dir)])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="imr-drafter", description="Draft IMR determinations citing MTUS passages.")
    p.add_argument("--verbose", "-v", action="store_true", help="debug logging (may include case text)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="(re)build the guideline index, or add an official guideline PDF")
    s.add_argument("file", nargs="?", help="a guideline PDF to ingest (omit to sync the bundled corpus)")
    s.add_argument("--guideline", help="guideline name for the PDF, e.g. 'MTUS Chronic Pain Medical Treatment Guidelines'")
    s.add_argument("--edition", help="edition of the PDF, e.g. 2009")
    s.add_argument("--effective-from", help="YYYY-MM-DD the PDF's edition took effect")
    s.add_argument("--effective-to", help="YYYY-MM-DD it was superseded (omit if in force)")
    s.add_argument("--corpus", help="topic folder (default DRAFTER_CORPUS_DIR)")
    s.add_argument("--rebuild", action="store_true", help="drop the collection and embed everything again")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("search", help="find the guideline passages for a disputed item")
    s.add_argument("text", nargs="?", help="the disputed item, as the request or letter words it")
    s.add_argument("--queries", help="file with one query per line; prints one JSON line per query")
    s.add_argument("--k", type=int, default=None, help="hits to return (default DRAFTER_RETRIEVAL__K)")
    s.add_argument("--date", help="request date YYYY-MM-DD: only editions in force then")
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("quickstart", help="build the index, answer a sample search and draft a sample case")
    s.add_argument("--query", help="the sample query to answer")
    s.add_argument("--case", help="the case to draft (default: a bundled sample case)")
    s.add_argument("--no-draft", action="store_true", help="stop after the sample search")
    s.set_defaults(func=cmd_quickstart)

    s = sub.add_parser("prepare", help="build the index and assemble the embedded model (the app's first run does this)")
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("draft", help="draft an IMR determination for a case file or folder")
    s.add_argument("case", help="a case file (.txt, .md, .pdf, .docx) or a folder of them")
    s.add_argument("--item", action="append", help="a disputed item (repeat); default: found in the UR letter")
    s.add_argument("--request-date", help="YYYY-MM-DD; default: the RFA or UR date found in the file")
    s.add_argument("--backend", choices=["llamacpp", "openai", "fake"], help="LLM backend (default DRAFTER_LLM__BACKEND)")
    s.add_argument("--no-llm", action="store_true", help="templates only: decisions and cited template rationales, no model")
    s.add_argument("--docx", help="also write the letter as a Word document here")
    s.add_argument("--json", action="store_true", help="print the full draft as JSON")
    s.set_defaults(func=cmd_draft)

    s = sub.add_parser("facts", help="the case facts a decision rests on, each with its evidence and context flags")
    s.add_argument("case", nargs="?", help="a case file or folder")
    s.add_argument("--item", action="append", help="a disputed item (repeatable); item-scoped facts read statements about it")
    s.add_argument("--request-date", help="YYYY-MM-DD; default: from the RFA or UR letter")
    s.add_argument("--json", action="store_true")
    s.add_argument("--batch", metavar="FILE.jsonl", help='excerpts, one {"id","text","item"} per line (- for stdin) -> one {"id","facts"} per line')
    s.set_defaults(func=cmd_facts)

    s = sub.add_parser("parse-letter", help="parse an IMR determination letter (.txt or .pdf)")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_parse_letter)

    s = sub.add_parser("eval", help="score drafts against historical letters; or: eval compare RUN_A RUN_B")
    s.add_argument("target", nargs="+", help="LETTERS_DIR, or: compare RUN_A RUN_B")
    s.add_argument("--out", help="RUN_DIR for results.jsonl, metrics.json, report.md, report.html (resumable)")
    s.add_argument("--backend", choices=["llamacpp", "openai", "fake"])
    s.add_argument("--prompts", help="a prompts folder to evaluate instead of prompts/")
    s.add_argument("--limit", type=int, default=0, help="at most N letters")
    s.add_argument("--workers", type=int, default=1, help="processes (the embedded model always uses one)")
    s.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray: a local Ray instance (--workers sets its CPUs), or the cluster at ADDRESS "
                        "(e.g. ray://head:10001; default DRAFTER_EVAL__RAY_ADDRESS)")
    s.add_argument("--systems", help="comma list of full,retrieval_only,llm_no_retrieval,always_uphold (default all)")
    s.add_argument("--system", default="full", help="system to compare (eval compare)")
    s.add_argument("--text", action="store_true", help="eval compare: also print the template diff and each changed item's two rationales as a word diff")
    s.add_argument("--fail-under", action="append", metavar="METRIC=VALUE", help="exit 1 when a metric is below VALUE, or above it with METRIC<=VALUE (repeatable)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("letters", help="the archive of past IMR letters: letters ingest DIR_OR_PDFS...")
    lsub = s.add_subparsers(dest="letters_command", required=True)
    li = lsub.add_parser("ingest", help="parse past letters (.txt/.pdf, all layouts) into the precedent archive; incremental by content hash")
    li.add_argument("paths", nargs="+", metavar="DIR_OR_PDFS", help="folders of letters, or letter files")
    li.add_argument("--json", action="store_true", help="print the report as JSON")
    li.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                    help="parse and embed on Ray: a local Ray instance (--workers sets its CPUs), or the cluster at ADDRESS "
                         "(default DRAFTER_EVAL__RAY_ADDRESS); this process writes the archive")
    li.add_argument("--workers", type=int, default=None, help="CPUs of the local Ray instance (default: all cores)")
    li.set_defaults(func=cmd_letters)

    s = sub.add_parser("precedents", help="how IMR decided items like this one: nearest past items and the family's outcomes")
    s.add_argument("item", help="the disputed item, e.g. 'Norco 10/325 #120'")
    s.add_argument("--facts", nargs="+", action="extend", metavar="F",
                   help="deciding facts, as fact=reading (functional_improvement=absent) or words ('no functional improvement')")
    s.add_argument("--date-range", help="only letters dated FROM:TO, e.g. 2014-01-01:2015-12-31 (either end may be empty)")
    s.add_argument("--k", type=int, default=None, help="past items to return (default DRAFTER_PRECEDENTS__K)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_precedents)

    s = sub.add_parser("validate-corpus", help="check every topic file's front matter")
    s.add_argument("--corpus", help="topic folder")
    s.set_defaults(func=cmd_validate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        logging.basicConfig(level=logging.DEBUG if args.verbose else settings.log_level, format="%(levelname)s %(name)s: %(message)s")
        for noisy in ("chromadb", "httpx", "sentence_transformers", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        return args.func(args, settings)
    except DrafterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
