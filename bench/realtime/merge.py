"""Merges the SUMMARY lines of several client processes that ran the same phases at
once on disjoint users (bench/realtime/many) into one report per phase.

Counts add up; latencies are merged from each client's recorded values, so the
percentiles are those of all deliveries; a phase's rate is all its deliveries over the
longest client's first send to last receive. Every client reads the CPU time of all the
server processes over its own phase, so the server CPU of a phase is the largest of
those readings.

Usage: merge.py summaries.jsonl connected
"""

import json
import sys
from collections import Counter

COUNTS = ["sent", "send_errors", "expected", "delivered", "lost", "duplicates", "strays"]


def percentile(counts, total, q):
    target = q * total
    seen = 0
    for value, count in sorted(counts.items()):
        seen += count
        if seen >= target:
            return value / 1000.0
    return 0.0


def main():
    path, connected = sys.argv[1], int(sys.argv[2])
    with open(path) as lines:
        summaries = [json.loads(line) for line in lines if line.strip()]
    dropped = sum(s["dropped"] for s in summaries)
    print(f"== {len(summaries)} clients, {connected} connections, {dropped} dropped by the servers")
    phases = {}
    for summary in summaries:
        for phase in summary["phases"]:
            phases.setdefault(phase["phase"], []).append(phase)
    for key, runs in phases.items():
        total = {name: sum(run[name] for run in runs) for name in COUNTS}
        latency = Counter()
        for run in runs:
            for value, count in run["latency_us_counts"]:
                latency[value] += count
        recorded = sum(latency.values())
        secs = max(run["active_secs"] for run in runs)
        rate = total["delivered"] / secs if secs else 0.0
        cpu = max(run["server_cpu_secs"] for run in runs)
        per_delivery = cpu * 1e6 / total["delivered"] if total["delivered"] else 0.0
        p50, p99 = (percentile(latency, recorded, q) for q in (0.50, 0.99))
        worst = max(latency) / 1000.0 if latency else 0.0
        print(
            f"{key:>9}: delivered {total['delivered']}/{total['expected']}, lost {total['lost']}, "
            f"duplicates {total['duplicates']}, strays {total['strays']}, send errors {total['send_errors']}; "
            f"{rate:,.0f} msgs/s; latency ms p50 {p50:.1f} p99 {p99:.1f} max {worst:.1f}; "
            f"server CPU {per_delivery:.0f} µs/delivery"
        )


if __name__ == "__main__":
    main()
