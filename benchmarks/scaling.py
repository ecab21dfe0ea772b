#!/usr/bin/python3
"""Scaling study of Weave's stages measured as per-rank counters (issue: order and pack at a billion
documents). A 2-core machine cannot time 64 ranks, but it can count what each rank holds and moves:
for P = 1, 2, 4, ..., 64 ranks (oversubscribed), weak scaling (N/P documents fixed) and strong
scaling (N fixed), it runs `weave knn` (exact, and ivf), `weave order` and `weave pack` with --report and
records per rank (largest and mean over ranks): peak memory (raw, and above the same stage's on a
tiny corpus at that P: the program, MPI and its per-peer buffers, HDF5, BLAS), the shared memory a
rank maps (Open MPI's shared-memory transport: in every rank's resident size, held once per node),
point-to-point bytes sent and received, messages, collectives, rounds and work units (pairs scored,
graph slots held, tail batches). Weak scaling of order and pack runs a second time with Open MPI
over TCP (weak_tcp), where a rank's peak is its own memory, and a third time over shared memory with
the transport's per-peer pages bounded (weak_shm_bounded, SHM_BOUNDED below). Wall times are
recorded too but mean something only at 1 and 2 ranks here.

Writes JSON (--json) and draws docs/scaling_weak.png and docs/scaling_strong.png with Debian's
matplotlib (`scripts/install-deps.sh --benchmarks` installs it); --plot-only redraws them from the JSON.

knn (exact, O(N^2 d) work) runs on `weave synth` corpora of --knn-per-rank documents per rank (weak)
or --knn-docs (strong); knn_ivf (`--method ivf`, default nlist ~ sqrt(N), --ivf-nprobe 4) on
synth corpora of --ivf-per-rank / --ivf-docs; order and pack on graphs generated directly
(benchmarks/order_graph_gen: a clustered corpus and a k-NN graph of it without a search) of
--order-per-rank / --order-docs.

Usage: /usr/bin/python3 benchmarks/scaling.py [--ranks 1,2,4,8,16,32,64] [--knn-per-rank 2000]
       [--order-per-rank 20000] [--knn-docs 64000] [--order-docs 640000] [--ivf-per-rank 20000]
       [--ivf-docs 640000] [--ivf-nprobe 4] [--dim 32] [--k 10] [--stages knn,knn_ivf,order,pack]
       [--json docs/scaling.json] [--modes weak,strong,weak_tcp,weak_shm_bounded] [--plot-only]
--modes and --stages run only those and keep the rest of an existing --json.
(run from the repository root after scripts/build.sh)."""
import argparse
import json
import os
import tempfile

from bench_common import BUILD, ROOT, WEAVE, run

STAGES = ("knn", "knn_ivf", "order", "pack")
TCP = {"OMPI_MCA_btl": "self,tcp"}
# Open MPI's shared-memory transport with each rank's share of its peers' segments bounded: messages
# above 256 bytes go by single copy (CMA) instead of through fragments of the sender's segment, and no
# fast boxes (a 4 KiB box per peer). What README.md recommends for tens of ranks on one node.
SHM_BOUNDED = {"OMPI_MCA_btl_vader_eager_limit": "256", "OMPI_MCA_btl_vader_rndv_eager_limit": "256",
               "OMPI_MCA_btl_vader_fbox_max": "0"}
MODES = ("weak", "strong", "weak_tcp", "weak_shm_bounded")
GRAPH_GEN = os.path.join(BUILD, "benchmarks", "order_graph_gen")


def spread(report, *path):
    x = report
    for key in path:
        x = x[key]
    return {"max": x["max"], "mean": x["mean"]}


def stage_row(stage, rep, wall, baseline):
    """Per-rank figures of one stage's report."""
    mem = spread(rep, "peak_memory_bytes")
    fig = rep.get("figures", {})
    row = {
        "wall_seconds": wall,
        "stage_seconds": sum(s["wall_seconds"]["max"] for s in rep["stages"]),
        "peak_memory": mem,
        "peak_memory_above_idle": {"max": mem["max"] - baseline["max"], "mean": mem["mean"] - baseline["mean"]},
        # Open MPI's shared-memory transport: in every rank's resident size, held once per node.
        "shared_memory": spread(rep, "shared_memory_bytes"),
        "bytes_sent": spread(rep, "traffic", "bytes_sent"),
        "bytes_received": spread(rep, "traffic", "bytes_received"),
        "messages_sent": spread(rep, "traffic", "messages_sent"),
        "collectives": spread(rep, "traffic", "collectives"),
    }
    if stage == "knn":
        row["pairs_scored"] = spread(rep, "counters", "pairs_scored")
        row["ring_bytes_sent"] = spread(rep, "counters", "bytes_sent")
    if stage == "knn_ivf":
        for counter in ("pairs_scored", "rows_shuffled", "bytes_shuffled", "largest_round_rows_received"):
            row[counter] = spread(rep, "counters", counter)
        for figure in ("ivf_clusters", "ivf_probe", "ivf_rounds", "ivf_units", "recall_at_k"):
            row[figure] = fig[figure]
    if stage == "order":
        row["greedy_rounds"] = fig["rounds"]
        row["tail_batches"] = fig["tail_batches"]
        row["stitch_levels"] = fig["stitch_levels"]
        row["graph_slots_plus_tail"] = {"max": fig["greedy_peak_edges_max"], "mean": fig["greedy_peak_edges_mean"]}
        row["mean_adjacent_similarity"] = fig["adjacent"]["mean_similarity"]
    if stage == "pack":
        row["corpus_bytes_read"] = spread(rep, "counters", "corpus_bytes_read")
    return row


def measure(tmp, p, n_knn, n_ivf, n_order, args, stages=STAGES, transport_env=None):
    """knn (exact) on n_knn synthetic documents, knn (ivf) on n_ivf, order and pack on a generated graph of n_order
    documents (the exact kNN of n_order documents would take hours here), all at p ranks; only
    `stages`, with `transport_env` added to the ranks' environment (e.g. Open MPI over TCP)."""
    # Yield when idle: 64 ranks share 2 cores, busy polling would starve the ranks doing the work.
    mpirun = ["mpirun", "-n", p, "--bind-to", "none"]
    env = {"OMPI_MCA_mpi_yield_when_idle": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    # The files are made without transport_env (same files either way); the stages run with it.
    stage_env = dict(env, **(transport_env or {}))
    corpora = {}
    for stage, n in (("knn", n_knn), ("knn_ivf", n_ivf)):
        if stage not in stages:
            continue
        corpora[stage] = os.path.join(tmp, f"corpus_{n}.h5")
        if not os.path.exists(corpora[stage]):
            run(["mpirun", "-n", 2, WEAVE, "synth", "--docs", n, "--dim", args.dim, "--topics", max(1, n // 500),
                 "--out", corpora[stage], "--quiet"], env)
    graph = os.path.join(tmp, f"graph_{n_order}")
    if not os.path.exists(graph):
        os.makedirs(graph)
        run(["mpirun", "-n", 2, GRAPH_GEN, n_order, args.k, max(1, n_order // 1000), args.dim, graph], env)
    knn, order, ctx = (os.path.join(tmp, f"{s}_{p}.h5") for s in ("knn", "order", "contexts"))
    # Each stage's resident size on a tiny corpus at p ranks: the program, MPI, HDF5 and BLAS, and MPI's
    # buffers for every peer the stage talks to (they grow with p: ~10 MiB per rank at 64 ranks here).
    tiny, tiny_graph = os.path.join(tmp, f"tiny_{p}.h5"), os.path.join(tmp, f"tiny_graph_{p}")
    os.makedirs(tiny_graph, exist_ok=True)
    run(["mpirun", "-n", 2, GRAPH_GEN, 16 * p, args.k, 4, args.dim, tiny_graph], env)
    run(["mpirun", "-n", 2, WEAVE, "synth", "--docs", 16 * p, "--dim", args.dim, "--out", tiny, "--quiet"], env)
    tiny_gcorpus = os.path.join(tiny_graph, "corpus.h5")
    idle = {}
    for stage, command in (
            ("knn", [WEAVE, "knn", "--corpus", tiny, "--k", args.k, "--out", knn]),
            ("knn_ivf", [WEAVE, "knn", "--corpus", tiny, "--k", args.k, "--method", "ivf", "--out", knn]),
            ("order", [WEAVE, "order", "--corpus", tiny_gcorpus, "--knn", os.path.join(tiny_graph, "knn.h5"),
                       "--out", order]),
            ("pack", [WEAVE, "pack", "--corpus", tiny_gcorpus, "--order", order, "--context-length", 8192,
                      "--out", ctx])):
        if stage not in stages and not (stage == "order" and "pack" in stages):  # pack reads order's output
            continue
        path = os.path.join(tmp, f"idle_{stage}_{p}.json")
        run(mpirun + command + ["--quiet", "--report", path], stage_env)
        idle[stage] = json.load(open(path))["peak_memory_bytes"]
    gcorpus = os.path.join(graph, "corpus.h5")
    commands = {
        "knn": ([WEAVE, "knn", "--corpus", corpora.get("knn"), "--k", args.k, "--out", knn], n_knn),
        # nlist the default (the power of two nearest sqrt(N)), nprobe fixed (--ivf-nprobe; 0 for the
        # automatic one, the least that reaches recall 0.95): on these corpora (d = 32, N/500 topics)
        # recall 0.95 takes more probes as N grows, and the automatic nprobe's rows at P = 64 would not
        # fit this machine (docs/benchmarks.md, "Scaling"); the recall reached is recorded.
        "knn_ivf": ([WEAVE, "knn", "--corpus", corpora.get("knn_ivf"), "--k", args.k, "--method", "ivf", "--nprobe",
                     args.ivf_nprobe, "--out", knn], n_ivf),
        "order": ([WEAVE, "order", "--corpus", gcorpus, "--knn", os.path.join(graph, "knn.h5"), "--out", order], n_order),
        "pack": ([WEAVE, "pack", "--corpus", gcorpus, "--order", order, "--context-length", 8192, "--out", ctx], n_order),
    }
    out = {}
    for stage in stages:
        path = os.path.join(tmp, f"{stage}_{p}.json")
        command, n = commands[stage]
        _, wall = run(mpirun + command + ["--quiet", "--report", path], stage_env)
        row = stage_row(stage, json.load(open(path)), wall, idle[stage])
        row["docs"] = n
        out[stage] = row
        print(f"  P={p:3d} {stage:5s} N={n:8d} wall {wall:7.2f} s  peak {row['peak_memory']['max'] / 2**20:7.1f} MiB "
              f"(+{row['peak_memory_above_idle']['max'] / 2**20:6.1f} over idle)  sent/rank max "
              f"{row['bytes_sent']['max'] / 2**20:8.2f} MiB  messages {row['messages_sent']['max']:8.0f}", flush=True)
    for f in (knn, order, ctx):
        if os.path.exists(f):
            os.remove(f)
    return out


def plot(results, png_prefix):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for mode in ("weak", "strong"):
        runs = results[mode]
        if not runs:
            continue
        ps = [r["ranks"] for r in runs]
        fig, axes = plt.subplots(1, 5, figsize=(23, 4.2))
        panels = (("peak_memory", "peak memory per rank (MiB, max over ranks)", 2**20, 1),
                  ("bytes_sent", "bytes sent per rank (MiB, max over ranks)", 2**20, 2),
                  ("messages_sent", "messages sent per rank (max over ranks)", 1, 2))
        for ax, (key, title, unit, from_p) in zip(axes, panels):
            for stage, marker in zip(STAGES, "o^sd"):
                xs = [r for r in runs if r["ranks"] >= from_p and stage in r]  # one rank moves nothing
                ax.plot([r["ranks"] for r in xs], [max(r[stage][key]["max"] / unit, 1e-3) for r in xs],
                        marker=marker, label=stage)
            if key == "peak_memory":
                # Dashed: order and pack with Open MPI over TCP (no shared-memory segments in each rank's
                # resident size); dash-dot: over shared memory with the per-peer pages bounded; dotted:
                # the shared memory each rank maps in the runs drawn solid.
                for variant, style, label in (("weak_tcp", "--", "MPI over TCP"),
                                              ("weak_shm_bounded", "-.", "shared memory bounded")):
                    extra = results.get(variant, []) if mode == "weak" else []
                    for stage, marker in (("order", "s"), ("pack", "d")):
                        if extra:
                            ax.plot([r["ranks"] for r in extra], [r[stage][key]["max"] / unit for r in extra],
                                    marker=marker, linestyle=style, label=f"{stage}, {label}")
                ax.plot(ps, [max(r["order"]["shared_memory"]["max"] / unit, 0.1) for r in runs], color="gray",
                        linestyle=":", label="shared memory mapped (order)")
            ax.set_xscale("log", base=2)
            if key == "peak_memory":
                ax.set_ylim(bottom=0)  # linear: flat is what the weak-scaling goal asks
            else:
                ax.set_yscale("log")
            ax.set_xlabel("ranks P")
            ax.set_title(title, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        ax = axes[3]
        for stage, marker, label in (("knn", "o", "knn exact"), ("knn_ivf", "^", "knn ivf")):
            xs = [r for r in runs if stage in r]
            ax.plot([r["ranks"] for r in xs], [r[stage]["pairs_scored"]["max"] for r in xs], marker=marker, label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("ranks P")
        ax.set_title("kNN: pairs scored per rank (max over ranks)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax = axes[4]
        ax.plot(ps, [r["order"]["greedy_rounds"] for r in runs], marker="s", label="greedy rounds")
        ax.plot(ps, [r["order"]["stitch_levels"] for r in runs], marker="^", label="stitch levels")
        ax.plot(ps, [r["order"]["tail_batches"] for r in runs], marker="v", label="tail batches")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("ranks P")
        ax.set_title("order: rounds (global synchronisations)", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        axes[0].legend(fontsize=7, loc="upper left")
        first = runs[0]
        docs = {stage: first.get(stage, {}).get("docs") for stage in STAGES}  # a partial run may lack some
        per = (lambda n: n // first["ranks"] if n else "-") if mode == "weak" else (lambda n: n or "-")
        what = (f"{mode} scaling: {per(docs['knn'])} (knn exact), {per(docs['knn_ivf'])} (knn ivf) and "
                f"{per(docs['order'])} (order, pack) documents" + (" per rank" if mode == "weak" else ""))
        fig.suptitle(f"weave, {what}, d = {results['dim']}, k = {results['k']} (oversubscribed on 2 cores)")
        fig.tight_layout()
        path = f"{png_prefix}_{mode}.png"
        fig.savefig(path, dpi=90)
        print("wrote", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", default="1,2,4,8,16,32,64")
    ap.add_argument("--knn-per-rank", type=int, default=2000, help="weak scaling of knn: documents per rank")
    ap.add_argument("--order-per-rank", type=int, default=20000, help="weak scaling of order, pack")
    ap.add_argument("--knn-docs", type=int, default=64000, help="strong scaling of knn: documents")
    ap.add_argument("--order-docs", type=int, default=640000, help="strong scaling of order, pack")
    ap.add_argument("--ivf-per-rank", type=int, default=20000, help="weak scaling of knn --method ivf")
    ap.add_argument("--ivf-docs", type=int, default=640000, help="strong scaling of knn --method ivf")
    ap.add_argument("--ivf-nprobe", type=int, default=4,
                    help="knn --method ivf: clusters each document searches (0: automatic, recall 0.95)")
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "scaling.json"))
    ap.add_argument("--png", default=os.path.join(ROOT, "docs", "scaling"))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--stages", default=",".join(STAGES), help="of the weak and strong modes (the others run order, pack)")
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args()
    if args.plot_only:
        plot(json.load(open(args.json)), args.png)
        return
    ranks = [int(x) for x in args.ranks.split(",")]
    modes, chosen = args.modes.split(","), args.stages.split(",")
    if any(m not in MODES for m in modes) or any(s not in STAGES for s in chosen):
        ap.error(f"--modes: each of {', '.join(MODES)}; --stages: each of {', '.join(STAGES)}")
    results = {"dim": args.dim, "k": args.k, **{m: [] for m in MODES}}
    if (set(modes) != set(MODES) or set(chosen) != set(STAGES)) and os.path.exists(args.json):
        # A partial run: what it does not measure is kept from the existing file.
        kept = json.load(open(args.json))
        if (kept["dim"], kept["k"]) != (args.dim, args.k):
            ap.error(f"{args.json} holds d = {kept['dim']}, k = {kept['k']}: run everything, or another --json")
        results.update({m: kept.get(m, []) for m in MODES})
    with tempfile.TemporaryDirectory(prefix="weave-scaling-") as tmp:
        for mode in modes:
            print(f"{mode} scaling")
            # weak_tcp: order and pack again with Open MPI's TCP transport instead of shared memory, whose
            # segments every rank maps (28 MiB a rank at P = 64 on one node): the peak is then the
            # rank's own memory. weak_shm_bounded: over shared memory with the per-peer pages bounded.
            stages, transport = {"weak_tcp": (("order", "pack"), TCP),
                                 "weak_shm_bounded": (("order", "pack"), SHM_BOUNDED)}.get(mode, (STAGES, None))
            if transport is None:
                stages = tuple(s for s in STAGES if s in chosen)
            for p in ranks:
                n_knn = args.knn_docs if mode == "strong" else p * args.knn_per_rank
                n_ivf = args.ivf_docs if mode == "strong" else p * args.ivf_per_rank
                n_order = args.order_docs if mode == "strong" else p * args.order_per_rank
                entry = next((e for e in results[mode] if e["ranks"] == p), None)
                if entry is None:
                    entry = {"ranks": p}
                    results[mode].append(entry)
                    results[mode].sort(key=lambda e: e["ranks"])
                entry.update(measure(tmp, p, n_knn, n_ivf, n_order, args, stages, transport))
                with open(args.json + ".tmp", "w") as f:
                    json.dump(results, f, indent=1)
                os.replace(args.json + ".tmp", args.json)
    summarize(results)
    plot(results, args.png)


def summarize(results):
    """Ratios that the issue's goals name: largest P against P = 2 (P = 1 moves nothing)."""
    for mode in ("weak", "weak_tcp", "weak_shm_bounded"):
        weak = results.get(mode, [])
        if len(weak) < 3:
            continue
        base = next(r for r in weak if r["ranks"] == 2)
        last = weak[-1]
        print(f"\n{mode} scaling, P = {last['ranks']} against P = 2 (per rank, max over ranks):")
        for stage in (s for s in STAGES if s in last and s in base):
            mem = last[stage]["peak_memory"]["max"] / base[stage]["peak_memory"]["max"]
            above = last[stage]["peak_memory_above_idle"]["max"] / max(base[stage]["peak_memory_above_idle"]["max"], 1)
            sent = last[stage]["bytes_sent"]["max"] / max(base[stage]["bytes_sent"]["max"], 1)
            # The share of a rank's partners that are remote grows as (P - 1) / P: 1/2 at P = 2.
            remote = sent / ((last["ranks"] - 1) / last["ranks"] / 0.5)
            shared = last[stage]["shared_memory"]["max"] / 2**20
            print(f"  {stage:7s} peak memory {mem:5.2f}x (above idle {above:5.2f}x; shared memory mapped at P = "
                  f"{last['ranks']}: {shared:.1f} MiB), bytes sent {sent:6.2f}x ({remote:5.2f}x per remote share)"
                  + (f", pairs scored {last[stage]['pairs_scored']['max'] / base[stage]['pairs_scored']['max']:6.2f}x"
                     if "pairs_scored" in last[stage] else ""))
        print("  greedy rounds by P: " + ", ".join(f"{r['ranks']}: {r['order']['greedy_rounds']}" for r in weak))


if __name__ == "__main__":
    main()
