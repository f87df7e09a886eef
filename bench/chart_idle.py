#!/usr/bin/python3
"""bench/chart_idle.py CSV PNG DATE - bench/lab-idle's table as bars: unic-echo's CPU % and the
ping round trip (p50, p99) per driver and rate, --idle poll against --idle hybrid.

CSV rows: "driver,mode,pings_per_s,cpu_pct,p50_ms,p99_ms" ("-" when missing).
"""
import csv
import sys

from chart import num, plt  # bench/chart.py: the same Agg backend and number parsing


def main():
    src, png, date = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = list(csv.reader(open(src)))
    groups = []  # (driver, rate) in table order
    val = {}
    for drv, mode, rate, cpu, p50, p99 in rows:
        key = (drv, rate)
        if key not in groups:
            groups.append(key)
        val[(drv, rate, mode)] = (num(cpu), num(p50), num(p99))
    x = range(len(groups))
    w = 0.4
    colors = {"poll": "#d9822b", "hybrid": "#2a7ab9"}
    fig, axes = plt.subplots(3, 1, figsize=(12, 10), sharex=True)
    titles = ("unic-echo CPU % (utime + stime)", "ping RTT p50 (ms)", "ping RTT p99 (ms)")
    for k, (ax, title) in enumerate(zip(axes, titles)):
        for j, mode in enumerate(("poll", "hybrid")):
            v = [val.get((d, r, mode), (0, 0, 0))[k] for d, r in groups]
            ax.bar([i + (j - 0.5) * w for i in x], v, w, label="--idle " + mode, color=colors[mode])
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    # one legend, above the top chart: inside, it would hide the last group's bars
    axes[0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False)
    axes[2].set_xticks(list(x))
    axes[2].set_xticklabels(["%s\n%s pings/s" % g for g in groups], fontsize=8)
    fig.suptitle("unic-echo in the lab guest (TCG, vfio), poll vs hybrid (%s)" % date)
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    main()
