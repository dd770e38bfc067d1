"""Letter-archive benchmark: ingest throughput and memory, precedent-search latency at 100,000 items, and
precedent-vote leave-one-out accuracy on the sample letters beside always_uphold.

    .venv/bin/python -m evals.precedents.benchmark [--letters 1000] [--items 100000] [--queries 200] [--json]

Everything is built in a temporary DRAFTER_HOME, removed at the end (--keep keeps it).
- Ingest: N copies of the sample letters in evals/letters, each with its own case number so every file has its
  own content hash (the item strings repeat, as in a real archive), ingested in two halves to show memory.
- Search: a SYNTHETIC SCALE-UP of the samples' ingested items to --items records: copies of each record with
  its vector jittered (Gaussian noise, renormalised) and its date spread over 2013-2020. It measures the
  index and the SQL counts at that size; it says nothing about retrieval quality on real letters.
- Vote: `run_eval` with the precedent_vote and always_uphold systems over evals/letters (leave-one-out).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
QUERIES = [("Norco 10/325 mg #120", ["no functional improvement"]), ("Additional physical therapy 2 x 6 lumbar spine", []),
           ("MRI of the lumbar spine", []), ("Acupuncture 2 x 3 cervical", ["no functional improvement"]), ("Tramadol ER 150 mg #30", []),
           ("Lidoderm 5% patch #30", []), ("Epidural steroid injection L5-S1", []), ("TENS unit purchase", []),
           ("Functional restoration program 80 hours", []), ("Cyclobenzaprine 7.5 mg #60", ["remains off work"]),
           ("Home health aide 4 hours a day", []), ("Right knee arthroscopy with partial meniscectomy", [])]


def rss_mb() -> float:
    """Current resident memory of this process (Linux), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_letters(n: int, dest: Path) -> list[Path]:
    from evals.harness.benchmark import make_letters as copies

    return copies(n, dest)


def bench_ingest(settings, embeddings, n: int, work: Path) -> dict:
    from drafter.precedents.archive import LetterArchive

    letters = work / "letters"
    letters.mkdir()
    files = make_letters(n, letters)
    archive = LetterArchive(settings, embeddings=embeddings)
    half = len(files) // 2
    before = rss_mb()
    a = archive.ingest(files[:half])
    mid = rss_mb()
    b = archive.ingest(files[half:])
    after = rss_mb()
    parsed = a.letters_parsed + b.letters_parsed
    return {
        "letters": len(files), "items": a.added_items + b.added_items, "failed": len(a.failed) + len(b.failed),
        "letters_per_s_parsed": round(parsed / (a.parse_seconds + b.parse_seconds), 1),
        # the first half sees each sample's item strings for the first time (parse_item is cached per string) and
        # pays the one-time imports; the second half is the steady state of an archive whose item strings repeat
        "letters_per_s_parsed_halves": [round(a.letters_parsed / a.parse_seconds, 1), round(b.letters_parsed / b.parse_seconds, 1)],
        "items_per_s_embedded": round((a.added_items + b.added_items) / (a.embed_seconds + b.embed_seconds), 1),
        "seconds": round(a.seconds + b.seconds, 1),
        "rss_mb": {"before": round(before), "after_first_half": round(mid), "after_second_half": round(after)},
        "embedding_threads": settings.embedding.index_threads,
    }


def bench_ingest_ray(settings, embeddings, work: Path, address: str | None, workers: int, serial: dict) -> dict:
    """The same letters (made by bench_ingest) ingested again on Ray into a fresh archive, compared with it."""
    import sqlalchemy as sa

    from drafter.precedents.archive import LetterArchive
    from drafter.precedents.ray_ingest import ingest_ray
    from drafter.review import tables as t

    archive = LetterArchive(settings, embeddings=embeddings)
    before = rss_mb()
    t0 = time.perf_counter()
    r = ingest_ray([work / "letters"], settings, archive, address=address, num_cpus=workers)
    wall = time.perf_counter() - t0
    ref = LetterArchive(type(settings)(home=work / "home-ingest"), embeddings=embeddings)  # bench_ingest's archive
    c = t.precedents.c
    cols = (c.id, c.family, c.decision, c.pages, c.facts)
    with archive.engine.connect() as a, ref.engine.connect() as b:
        same = sorted(a.execute(sa.select(*cols))) == sorted(b.execute(sa.select(*cols)))
    return {"letters": r.letters_parsed + r.unchanged_letters, "items": r.added_items, "failed": len(r.failed), "seconds": round(wall, 1),
            "serial_seconds": serial["seconds"], "speedup": round(serial["seconds"] / wall, 2),
            "letters_per_s_parsed_per_cpu": round(r.letters_per_s_parsed or 0, 1), "items_per_s_wall": round(r.added_items / wall, 1),
            "nodes": r.nodes, "same_archive_rows": same, "driver_rss_mb": {"before": round(before), "after": round(rss_mb())},
            "where": address or f"local, {workers} CPUs"}


def scale_up(settings, embeddings, target: int, seed: int = 7) -> dict:
    """Fill a fresh archive with `target` synthetic records made from the sample letters' records."""
    import numpy as np
    import sqlalchemy as sa

    from drafter.precedents.archive import LetterArchive
    from drafter.review import tables as t

    archive = LetterArchive(settings, embeddings=embeddings)
    t0 = time.perf_counter()
    archive.ingest([HERE / "letters"])
    got = archive.collection.get(include=["embeddings", "metadatas", "documents"])
    with archive.engine.connect() as db:
        rows = {r.id: dict(r._mapping) for r in db.execute(sa.select(t.precedents))}
    base = [(i, np.asarray(v, dtype="float32"), m, d) for i, v, m, d in zip(got["ids"], got["embeddings"], got["metadatas"], got["documents"])
            if i in rows]
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    made = len(base)
    step = 5000
    copy = 0
    while made < target:
        n = min(step, target - made)
        ids, vecs, metas, docs, sql = [], [], [], [], []
        for j in range(n):
            rid, v, m, d = base[(made + j) % len(base)]
            copy += 1
            w = v + rng.normal(0, 0.03, v.shape).astype("float32")
            w /= np.linalg.norm(w)
            year = rnd.randint(2013, 2020)
            date = f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            chash = f"syn{copy:013d}"
            new_id = f"{chash}-0"
            ids.append(new_id)
            vecs.append(w.tolist())
            metas.append({**m, "content_hash": chash, "letter_date": int(date.replace("-", "")), "letter_name": f"synthetic-{copy}.txt"})
            docs.append(d)
            r = rows[rid]
            sql.append({**r, "id": new_id, "content_hash": chash, "letter_path": f"synthetic/{copy}.txt", "letter_name": f"synthetic-{copy}.txt",
                        "item_index": 0, "letter_date": date})
        archive.collection.add(ids=ids, embeddings=vecs, metadatas=metas, documents=docs)
        with archive.engine.connect() as db, db.begin():
            db.execute(t.precedents.insert(), sql)
        made += n
        print(f"  scale-up: {made:,} / {target:,} items", file=sys.stderr, flush=True)
    return {"items": archive.count(), "from_sample_items": len(base), "build_seconds": round(time.perf_counter() - t0, 1)}


def bench_search(settings, embeddings, n_queries: int) -> dict:
    from drafter.precedents.archive import LetterArchive
    from drafter.precedents.search import find_precedents

    archive = LetterArchive(settings, embeddings=embeddings)
    find_precedents(QUERIES[0][0], archive=archive)  # warm: first query loads the HNSW index
    times, flagged = [], 0
    for i in range(n_queries):
        item, facts = QUERIES[i % len(QUERIES)]
        dr = "2014-01-01:2015-12-31" if i % 3 == 2 else None
        t0 = time.perf_counter()
        res = find_precedents(item, facts=facts, date_range=dr, archive=archive)
        times.append(time.perf_counter() - t0)
        flagged += res.strong_majority is not None
    times.sort()
    return {"queries": n_queries, "archive_items": archive.count(), "k": settings.precedents.k,
            "p50_ms": round(1000 * statistics.median(times), 1), "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(1000 * times[-1], 1), "with_strong_majority": flagged}


def bench_vote(settings, work: Path) -> dict:
    from drafter.evaluation.runner import run_eval

    m = run_eval(HERE / "letters", work / "vote-run", settings, systems=("precedent_vote", "always_uphold"), progress=False)
    keys = ("decision_accuracy", "decision_kappa", "overturn_recall")
    return {s: {"items": m[s].get("items"), **{k: round(m[s][k]["value"], 3) for k in keys if m[s].get(k, {}).get("value") is not None}}
            for s in m}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--letters", type=int, default=1000, help="letters for the ingest benchmark")
    ap.add_argument("--items", type=int, default=100_000, help="archive size for the search benchmark (synthetic scale-up)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip", default="", help="comma list of ingest,search,vote to skip")
    ap.add_argument("--keep", action="store_true", help="keep the temporary DRAFTER_HOME")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                    help="also ingest the same letters on Ray (local with --workers CPUs, or a cluster) and compare")
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from drafter.embeddings import make_embeddings
    from drafter.errors import DrafterError
    from drafter.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="imr-precedents-"))
    skip = set(filter(None, args.skip.split(",")))
    out: dict = {"machine": {"cpus": os.cpu_count()}, "work_dir": str(work)}
    try:
        settings = Settings(home=work / "home-ingest")
        embeddings = make_embeddings(settings, for_indexing=True)
        if "ingest" not in skip:
            print(f"ingest: {args.letters} letters ...", file=sys.stderr, flush=True)
            out["ingest"] = bench_ingest(settings, embeddings, args.letters, work)
            if args.ray:
                print(f"ingest on Ray: the same {args.letters} letters ...", file=sys.stderr, flush=True)
                out["ingest_ray"] = bench_ingest_ray(Settings(home=work / "home-ray"), embeddings, work,
                                                     None if args.ray == "local" else args.ray, args.workers, out["ingest"])
        if "search" not in skip:
            s2 = Settings(home=work / "home-search")
            print(f"search: building a synthetic archive of {args.items:,} items ...", file=sys.stderr, flush=True)
            embeddings.set_threads(s2.embedding.index_threads)
            out["search_archive"] = {**scale_up(s2, embeddings, args.items), "synthetic": True,
                                     "note": "a synthetic scale-up of the sample letters' items (jittered copies), not real letters"}
            embeddings.set_threads(s2.embedding.threads)
            out["search"] = bench_search(s2, embeddings, args.queries)
        if "vote" not in skip:
            print("vote: leave-one-out eval over evals/letters ...", file=sys.stderr, flush=True)
            try:
                out["vote"] = bench_vote(Settings(home=work / "home-vote"), work)
            except DrafterError as exc:  # the eval needs the guideline index: a broken corpus file stops it, not the figures above
                out["vote_error"] = str(exc)
        out["peak_rss_mb"] = round(peak_mb())
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if "ingest" in out:
        i = out["ingest"]
        print(f"Ingest ({i['letters']} letters: copies of the samples with their own case numbers, {i['items']} items):")
        h = i["letters_per_s_parsed_halves"]
        print(f"  {i['letters_per_s_parsed']} letters/s parsed (one process; target >= 500/core; first half {h[0]}, second half {h[1]}), "
              f"{i['items_per_s_embedded']} items/s embedded ({i['embedding_threads']} torch threads; target >= 100)")
        r = i["rss_mb"]
        print(f"  memory: RSS {r['before']} MB before, {r['after_first_half']} MB after half, {r['after_second_half']} MB after all")
    if "ingest_ray" in out:
        r = out["ingest_ray"]
        print(f"Ingest on Ray ({r['where']}; Ray start-up and the embedding model's load on each worker included): {r['letters']} letters, "
              f"{r['items']} items in {r['seconds']} s against {r['serial_seconds']} s in one process ({r['speedup']}x); "
              f"{r['letters_per_s_parsed_per_cpu']} letters/s parsed per CPU, {r['items_per_s_wall']} items/s stored; "
              f"nodes {r['nodes']}; archive {'identical' if r['same_archive_rows'] else 'DIFFERENT'} to the one-process ingest; "
              f"driver RSS {r['driver_rss_mb']['before']} -> {r['driver_rss_mb']['after']} MB")
    if "search" in out:
        s, a = out["search"], out["search_archive"]
        print(f"Search over {s['archive_items']:,} items (SYNTHETIC scale-up of {a['from_sample_items']} sample items; built in {a['build_seconds']} s):")
        print(f"  p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, max {s['max_ms']} ms over {s['queries']} queries "
              f"({len(QUERIES)} items, a third with a 2014-2015 date range; query embedding included; k={s['k']}; target p95 <= 100 ms)")
    if "vote" in out:
        print("Leave-one-out decision accuracy on the sample letters:")
        for name, m in out["vote"].items():
            print(f"  {name:16} accuracy {m.get('decision_accuracy')}  kappa {m.get('decision_kappa')}  "
                  f"overturn recall {m.get('overturn_recall')}  ({m.get('items')} items)")
    if "vote_error" in out:
        print(f"Leave-one-out vote not run: {out['vote_error']}")
    print(f"peak RSS {out['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
