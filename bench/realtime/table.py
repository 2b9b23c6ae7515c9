#!/usr/bin/env python3
"""Side-by-side table of bench/realtime runs, from the client's SUMMARY lines.

With several runs of one target (REPEAT), each figure is the median over its runs.
"""
import json
import statistics
import sys

ORDER = ["herald-sqlite", "herald-postgres", "ws", "socketio"]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(path):
    runs = {}
    for line in open(path):
        if line.strip():
            s = json.loads(line)
            runs.setdefault(s["label"], []).append(s)
    labels = sorted(runs, key=lambda l: (ORDER.index(l) if l in ORDER else 99, l))

    def top(label, key):
        return median([r[key] for r in runs[label]])

    def phase(label, name, key):
        return median([p[key] for r in runs[label] for p in r["phases"] if p["phase"] == name])

    rows = []
    for label in labels:
        row = {
            "target": label + (f" (median of {len(runs[label])})" if len(runs[label]) > 1 else ""),
            "conns": f"{int(top(label, 'connected')):,}/{int(top(label, 'connections')):,}",
            "connect s": f"{top(label, 'connect_secs'):.1f}",
            "KiB/idle conn": f"{top(label, 'kib_per_idle_conn'):.1f}",
        }
        opening = [r.get("connect_server_us_per_conn") for r in runs[label]]
        if all(v is not None for v in opening):
            row["server µs/conn opened"] = f"{median(opening):.0f}"
        idle = [r.get("idle_server_cpu_pct") for r in runs[label]]
        if any(v is not None for v in idle):
            row["idle server CPU %"] = f"{median(idle):.0f}"
        for name, title in [("steady", "per-user steady"), ("flat", "per-user flat out"), ("broadcast", "broadcast")]:
            rate = phase(label, name, "msgs_per_sec")
            if rate is None:
                continue
            row[f"{title} msgs/s"] = f"{rate:,.0f}"
            row[f"{title} p50/p99 ms"] = f"{phase(label, name, 'p50_ms'):.1f} / {phase(label, name, 'p99_ms'):.1f}"
            lost = phase(label, name, "lost")
            errors = phase(label, name, "send_errors")
            row[f"{title} lost"] = f"{int(lost):,}" + (f" ({int(errors)} send errors)" if errors else "")
            row[f"{title} server µs/msg"] = f"{phase(label, name, 'server_us_per_delivery'):.1f}"
        row["dropped"] = f"{int(top(label, 'dropped'))}"
        rows.append(row)

    columns = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    # Transposed: one column per target reads better with this many figures.
    width = max(len(c) for c in columns)
    cells = [[row.get(c, "") for row in rows] for c in columns]
    widths = [max(len(cells[i][j]) for i in range(len(columns))) for j in range(len(rows))]
    print()
    for c, values in zip(columns, cells):
        print(f"{c:<{width}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(values, widths)))

    # The targets, against socket.io measured in the same session.
    herald = [l for l in labels if l.startswith("herald")]
    print()
    for label in herald:
        notes = []
        p99 = max(phase(label, n, "p99_ms") or 0 for n in ("steady", "broadcast"))
        notes.append(f"p99 (steady, broadcast) {p99:.1f} ms {'<' if p99 < 100 else '>='} 100 ms")
        kib = top(label, "kib_per_idle_conn")
        notes.append(f"{kib:.1f} KiB/idle connection {'<=' if kib <= 16 else '>'} 16 KiB")
        if "socketio" in runs:
            for name in ("flat", "broadcast"):
                h, s = phase(label, name, "msgs_per_sec"), phase("socketio", name, "msgs_per_sec")
                if h and s:
                    notes.append(f"{name} {h / s:.2f}x socket.io")
        print(f"{label}: " + "; ".join(notes))
    print("(2 cores: server pinned to core 0, client to core 1 unless PIN=0; the client's own cost and"
          " loopback softirq are included in every latency)")


if __name__ == "__main__":
    main(sys.argv[1])
