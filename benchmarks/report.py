"""Summaries of raw timings, and the tables printed to stdout and written as Markdown."""

from __future__ import annotations

import statistics


def rate(value: float | None) -> str:
    """A rate with a k/M suffix: 1066000 -> '1.07M', 59500 -> '59.5k'."""
    if value is None:
        return "—"
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= limit:
            scaled = value / limit
            return f"{scaled:.3g}{suffix}" if scaled < 100 else f"{scaled:.0f}{suffix}"
    return f"{value:.3g}"


def ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}x" if value >= 0.01 else f"{value:.2g}x"


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0%}" if value >= 0.1 else f"{value:.1%}"


def short(reason: str, width: int = 48) -> str:
    """A skip reason short enough for a table cell; the full one is in the JSON."""
    if "not importable" in reason:
        return "not importable"
    return reason if len(reason) <= width else reason[: width - 1] + "…"


def summarize_training(result: dict, gemm_rate: float) -> dict[str, dict]:
    """Per peer at its best thread count: median, min and max rows/s, GFLOP/s, ratios."""
    workload = result["workload"]
    summary = {}
    for peer, entry in result["peers"].items():
        if "error" in entry:
            summary[peer] = {"error": entry["error"]}
            continue
        per_threads = {
            t: [workload["rows"] / s for s in seconds] for t, seconds in entry["seconds"].items()
        }
        best = max(per_threads, key=lambda t: statistics.median(per_threads[t]))
        rows = per_threads[best]
        median = statistics.median(rows)
        gflops = median * workload["flops_per_epoch"] / workload["rows"] / 1e9
        summary[peer] = {
            "threads": best,
            "rows_per_s": median,
            "min": min(rows),
            "max": max(rows),
            "gflops": gflops,
            "gemm_fraction": gflops / gemm_rate if gemm_rate else None,
            "by_threads": {t: statistics.median(r) for t, r in per_threads.items()},
        }
    for base in ("pytorch", "sklearn"):
        reference = summary.get(base, {}).get("rows_per_s")
        for peer in summary.values():
            if "error" not in peer:
                peer[f"vs_{base}"] = peer["rows_per_s"] / reference if reference else None
    return summary


def summarize_inference(result: dict) -> dict[str, dict]:
    """Per peer: best batch-1 latency (µs) and best batch-N throughput over thread counts."""
    summary = {}
    for peer, entry in result["peers"].items():
        if "error" in entry:
            summary[peer] = {"error": entry["error"]}
            continue
        latency = {t: statistics.median(v) for t, v in entry["latency_us"].items()}
        throughput = {t: statistics.median(v) for t, v in entry["throughput"].items()}
        lat_t = min(latency, key=latency.get)
        thr_t = max(throughput, key=throughput.get)
        summary[peer] = {
            "latency_us": latency[lat_t],
            "latency_threads": lat_t,
            "latency_spread": (min(entry["latency_us"][lat_t]), max(entry["latency_us"][lat_t])),
            "throughput": throughput[thr_t],
            "throughput_threads": thr_t,
            "throughput_spread": (min(entry["throughput"][thr_t]), max(entry["throughput"][thr_t])),
            "max_abs_diff": entry.get("max_abs_diff"),
        }
    torch = summary.get("pytorch", {})
    onnx = summary.get("onnxruntime", {})
    for peer in summary.values():
        if "error" in peer:
            continue
        peer["latency_vs_pytorch"] = (
            peer["latency_us"] / torch["latency_us"] if "latency_us" in torch else None
        )
        peer["throughput_vs_onnxruntime"] = (
            peer["throughput"] / onnx["throughput"] if "throughput" in onnx else None
        )
    return summary


TRAINING_HEADER = [
    "workload",
    "peer",
    "threads",
    "rows/s",
    "spread (min–max)",
    "GFLOP/s",
    "of GEMM",
    "vs pytorch",
    "vs sklearn",
]


def training_rows(training: dict) -> list[list[str]]:
    rows = []
    for name, result in training.items():
        for peer, s in result["summary"].items():
            if "error" in s:
                rows.append([name, peer, "", "skipped", short(s["error"]), "", "", "", ""])
                continue
            rows.append(
                [
                    name,
                    peer,
                    str(s["threads"]),
                    rate(s["rows_per_s"]),
                    f"{rate(s['min'])}–{rate(s['max'])}",
                    f"{s['gflops']:.3g}",
                    percent(s["gemm_fraction"]),
                    ratio(s["vs_pytorch"]),
                    ratio(s["vs_sklearn"]),
                ]
            )
    return rows


INFERENCE_HEADER = [
    "peer",
    "batch-1 latency µs (threads)",
    "spread",
    "vs pytorch",
    "batch-N rows/s (threads)",
    "spread",
    "vs onnxruntime",
    "max abs diff",
]


def inference_rows(summary: dict) -> list[list[str]]:
    rows = []
    for peer, s in summary.items():
        if "error" in s:
            rows.append([peer, "skipped", short(s["error"]), "", "", "", "", ""])
            continue
        lo, hi = s["latency_spread"]
        tlo, thi = s["throughput_spread"]
        diff = s["max_abs_diff"]
        rows.append(
            [
                peer,
                f"{s['latency_us']:.1f} ({s['latency_threads']})",
                f"{lo:.1f}–{hi:.1f}",
                ratio(s["latency_vs_pytorch"]),
                f"{rate(s['throughput'])} ({s['throughput_threads']})",
                f"{rate(tlo)}–{rate(thi)}",
                ratio(s["throughput_vs_onnxruntime"]),
                "—" if diff is None else f"{diff:.1e}",
            ]
        )
    return rows


MEMORY_HEADER = [
    "workload",
    "peer",
    "epoch peak − baseline MiB",
    "baseline MiB",
    "whole-process peak MiB",
    "vs pytorch",
]


def memory_rows(memory: list[dict]) -> list[list[str]]:
    torch = {m["workload"]: m.get("epoch_mib") for m in memory if m["peer"] == "pytorch"}
    rows = []
    for m in memory:
        if "error" in m:
            rows.append([m["workload"], m["peer"], "skipped", short(m["error"]), "", ""])
            continue
        base = torch.get(m["workload"])
        rows.append(
            [
                m["workload"],
                m["peer"],
                f"{m['epoch_mib']:.1f}",
                f"{m['baseline_mib']:.1f}",
                f"{m['peak_mib']:.1f}",
                ratio(m["epoch_mib"] / base) if base else "—",
            ]
        )
    return rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    return "\n".join(lines)
