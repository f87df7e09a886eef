#!/usr/bin/python3
"""bench/chart.py CSV PNG DATE - bar chart of bench/run's table (instructions and cycles per packet).

CSV rows: "ring row size,unic_instr,dpdk_instr,unic_cycles,dpdk_cycles" ("-" when missing).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def num(s):
    try:
        return float(s)
    except ValueError:
        return 0.0


def main():
    src, png, date = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = list(csv.reader(open(src)))
    labels = [r[0] for r in rows]
    x = range(len(rows))
    w = 0.4
    fig, axes = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    for ax, (ui, di), title in ((axes[0], (1, 2), "instructions per packet (callgrind, exact)"),
                                (axes[1], (3, 4), "TSC cycles per packet (median, noisy)")):
        u = [num(r[ui]) for r in rows]
        d = [num(r[di]) for r in rows]
        ax.bar([i - w / 2 for i in x], u, w, label="unic (vhost-user)", color="#2a7ab9")
        ax.bar([i + w / 2 for i in x], d, w, label="DPDK virtio-user", color="#d9822b")
        for i in x:
            if u[i] and d[i]:
                ax.text(i, max(u[i], d[i]) * 1.02, "%.2f" % (u[i] / d[i]), ha="center", fontsize=8)
        ax.set_title(title + "; number = unic/DPDK")
        ax.legend(loc="upper left")
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(list(x))
    axes[1].set_xticklabels(labels, rotation=45, ha="right")
    fig.suptitle("unic vs DPDK virtio-user front-end, same DPDK vhost backend, burst 32 (%s)" % date)
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    main()
