"""The east-west scenario's own figures beyond the generic ones (:mod:`cnibench.report.plots`): the pod network's
throughput over the host network's on the same nodes, as points and as a table."""

from __future__ import annotations

from collections.abc import Sequence

from cnibench.report.figure import Plot, Table, cni_style, legend_below, panels, svg
from cnibench.scenarios._east_west_matrix import PATHS


def ratio_plot(ratios: Sequence[tuple[str, str, str, str, float]]) -> Plot | None:
    """The pod/host throughput ratios (``(cni, path, placement, mode, ratio)``, :meth:`EastWest.ratios`): one panel
    per pod path, per placement x mode each CNI's ratio as a point in its style (dashed: 1.0, the pod path costs
    nothing), and the table ``ratio_lines`` prints; None without a host-to-host trial."""
    if not ratios:
        return None
    paths = [p for p in PATHS if any(r[1] == p for r in ratios)]
    cnis = list(dict.fromkeys(r[0] for r in ratios))
    columns = list(dict.fromkeys((r[2], r[3]) for r in ratios))
    fig, axes = panels(len(paths), height=2.4, sharey=True)
    for ax, path in zip(axes, paths, strict=True):
        for j, cni in enumerate(cnis):
            style = cni_style(cni, cnis)
            points = [(columns.index((pl, mo)), ratio) for c, p, pl, mo, ratio in ratios if (c, p) == (cni, path)]
            offset = (j - (len(cnis) - 1) / 2) * (0.5 / len(cnis))
            ax.scatter([x + offset for x, _ in points], [y for _, y in points], s=34, color=style.color,
                       marker=style.marker, edgecolors="#111111", linewidths=0.5, label=cni)  # fmt: skip
        ax.axhline(1.0, color="#111111", linewidth=1, linestyle="--")
        ax.set_xticks(range(len(columns)), [f"{pl}\n{mode}" for pl, mode in columns])
        ax.set_xlim(-0.6, len(columns) - 0.4)
        ax.set_title(f"{path} / host")
    axes[0].set_ylabel("pod / host throughput")
    legend_below(fig)
    cells: dict[tuple[str, str, str], dict[str, float]] = {}
    for cni, pod_path, placement, mode, ratio in ratios:
        cells.setdefault((cni, placement, mode), {})[pod_path] = ratio
    rows = tuple(
        (cni, placement, mode, *(f"{row[p]:.2f}" if p in row else "-" for p in paths))
        for (cni, placement, mode), row in cells.items()
    )
    table = Table("Pod network / host network throughput", ("cni", "placement", "mode",
                  *(f"{p} / host-to-host" for p in paths)), rows)  # fmt: skip
    return Plot(
        "Pod network over host network",
        "Per CNI (datapath), placement and mode: the median throughput of the pod path over host-to-host on the "
        "same nodes (a ratio of medians: the trials ran one after the other, not paired; saturating trials "
        "only). 1.00: the pod network costs nothing.",
        svg(fig),
        tables=(table,),
    )
