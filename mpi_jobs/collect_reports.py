#!/usr/bin/env python3
"""One table from many `weave run --report` files: the tasks of an array job (slurm_array.sbatch),
the points of a scaling study or parameter sweep.

    python3 mpi_jobs/collect_reports.py weave-array-reports/            # a folder, or report files
    python3 mpi_jobs/collect_reports.py --csv sweep.csv weave-array-reports/*.json

Per report: ranks, documents, k, context lengths, the wall seconds of the slowest rank in each
stage summed (the run's time), the knn / order / pack parts of it, peak memory per rank (max over
ranks) and the order's mean adjacent similarity. Standard library only; any python3.
"""
import argparse
import csv
import json
import os
import sys

# The report's stages by the weave run stage they belong to; "read" and "write" belong to the stage
# of the named one after (read) or before (write) them.
KNN_STAGES = {"read_corpus", "search"}
ORDER_STAGES = {"greedy", "stitch", "place", "iclm", "quality"}
PACK_PREFIXES = ("pack_", "repeat", "dataset_")


def stage_groups(names):
    def known(name):
        if name in KNN_STAGES:
            return "knn"
        if name in ORDER_STAGES:
            return "order"
        if name.startswith(PACK_PREFIXES):
            return "pack"
        return None
    groups = [known(n) for n in names]
    for i, n in enumerate(names):
        if groups[i] is None and n == "read":
            groups[i] = next((known(m) for m in names[i + 1:] if known(m)), None)
        elif groups[i] is None and n == "write":
            groups[i] = next((known(m) for m in reversed(names[:i]) if known(m)), None)
    return groups

COLUMNS = ["report", "ranks", "documents", "k", "method", "context_lengths", "seconds", "knn_seconds",
           "order_seconds", "pack_seconds", "peak_memory_gib", "mean_adjacent_similarity"]


def report_files(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".json"))
        else:
            files.append(p)
    return files


def row(path):
    with open(path) as f:
        r = json.load(f)
    if r.get("creator") != "weave" or "stages" not in r:
        raise ValueError(f"{path}: not a weave report (no 'creator': 'weave' and 'stages')")
    config = r.get("configuration", {})
    knn = config.get("knn", {})
    pack = config.get("pack", {})
    figures = r.get("figures", {})
    groups = {"knn": 0.0, "order": 0.0, "pack": 0.0}
    total = 0.0
    names = [s["stage"] for s in r["stages"]]
    for s, group in zip(r["stages"], stage_groups(names)):
        seconds = s["wall_seconds"]["max"]
        total += seconds
        if group:
            groups[group] += seconds
    adjacent = figures.get("adjacent", {})
    return {
        "report": os.path.basename(path),
        "ranks": r.get("ranks"),
        "documents": figures.get("documents", ""),
        "k": knn.get("k", figures.get("k", "")),
        "method": knn.get("method", ""),
        "context_lengths": " ".join(str(L) for L in pack.get("context_lengths", [])),
        "seconds": round(total, 3),
        "knn_seconds": round(groups["knn"], 3),
        "order_seconds": round(groups["order"], 3),
        "pack_seconds": round(groups["pack"], 3),
        "peak_memory_gib": round(r.get("peak_memory_bytes", {}).get("max", 0) / 2**30, 3),
        "mean_adjacent_similarity": round(adjacent["mean_similarity"], 4) if "mean_similarity" in adjacent else "",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", help="report files or folders of them")
    parser.add_argument("--csv", help="also write the table as CSV to this file")
    args = parser.parse_args()
    files = report_files(args.reports)
    if not files:
        sys.exit("collect_reports: no report files found in " + " ".join(args.reports))
    try:
        rows = [row(f) for f in files]
    except (OSError, ValueError, KeyError) as e:
        print(f"collect_reports: {e}", file=sys.stderr)
        sys.exit(2)
    rows.sort(key=lambda x: (x["documents"] or 0, x["ranks"] or 0, x["k"] or 0, x["report"]))
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for x in rows:
        print("| " + " | ".join(str(x[c]) for c in COLUMNS) + " |")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
        print(f"collect_reports: {len(rows)} rows written to {args.csv}", file=sys.stderr)


if __name__ == "__main__":
    main()
