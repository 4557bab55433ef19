"""The report's figures, drawn with matplotlib's Agg backend and returned as PNG bytes.

Two kinds here, all from numbers the summary already holds (nothing here computes a statistic);
the comparison figure (audit.comparison_plot) draws its arms with this module's `draw_estimate`:
- `plot_claims`: claimed vs achieved, one row per claim, one point per source. A source's mean is a
  marker; a thick bar is ±1 SD over seeds, a thin capped bar its Student-t 95% CI, dots its per-seed
  values; an external result whose ± has no stated meaning gets a dashed bar of that ±, another
  published value of the claim a dotted line beside the claimed one. Intervals are drawn as the
  summary's display intervals (clipped to [0, 100]). Proxy sources (not comparable with the claim)
  are drawn hollow and named so in the legend.
- `plot_curves`: one claim's training curves, a row per source, seeds overlaid; the evaluation the
  checkpoint rule selected is marked, with the final and the best one labelled.

Determinism: pyplot is never used (no global figure state); every figure is drawn inside
`rc_context(STYLE)` with matplotlib's bundled DejaVu Sans, at a fixed size and dpi with fixed
margins, and encoded by Pillow without text chunks, so the same inputs on the same matplotlib,
FreeType and Pillow versions give the same bytes.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.textpath import TextToPath
from PIL import Image

DPI = 110
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "svg.hashsalt": "trm-audit",
    "path.simplify": False,  # simplification depends on the canvas; keep every point
    "axes.grid": True,
    "grid.alpha": 0.3,
}
# Colour-blind-safe qualitative palette (Okabe-Ito), assigned to sources in sorted order.
_TEXT_PATHS = TextToPath()
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


@dataclass(frozen=True)
class SourceEstimate:
    """One source's result for one claim, in percent, as the summary holds it."""

    source: str
    comparable: bool
    mean: Optional[float]
    sd: Optional[float]  # sample SD over seeds (ddof 1); None for fewer than 2 seeds
    ci95: Optional[tuple[float, float]]  # Student-t 95% CI of the mean clipped to [0, 100]; None for n < 2
    values: tuple[float, ...]  # per-seed values (completed runs only)
    published_pm: Optional[float] = None  # an external's "±" whose meaning the source does not state


@dataclass(frozen=True)
class ClaimEstimates:
    """A claim and every source's estimate of it."""

    claim_id: str
    label: str  # e.g. "Sudoku-Extreme · TRM-MLP"
    claimed: Optional[float]  # percent; None when the paper gives no number
    tolerance_pp: float
    sources: tuple[SourceEstimate, ...]
    other_values: tuple[float, ...] = ()  # other published values of the claim (drawn dotted)


@dataclass(frozen=True)
class RunCurve:
    """One run's curves: (steps, values) per series, values in the unit shown on the axis."""

    seed: int
    train: tuple[tuple[int, ...], tuple[float, ...]]  # the accuracy metric on training batches
    test: tuple[tuple[int, ...], tuple[float, ...]]  # the claim metric at each evaluation
    loss: tuple[tuple[int, ...], tuple[float, ...]]  # training loss
    selected_step: Optional[int]  # the evaluation the claim's checkpoint rule picks
    final_step: Optional[int]
    best_step: Optional[int]
    failed: bool = False  # drawn dashed: the run stopped early


@dataclass(frozen=True)
class SourceCurves:
    """One source's runs of a claim, as drawn; `total` counts the runs there are (a figure draws a few)."""

    source: str
    comparable: bool
    runs: tuple[RunCurve, ...]
    total: Optional[int] = None


def source_colors(sources: Sequence[str]) -> dict[str, str]:
    """A fixed colour per source name, so every figure of a report uses the same colours."""
    names = sorted(set(sources))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def to_png(fig: Figure) -> bytes:
    """The figure as a 256-colour PNG: no text chunks (no software version, no date), about a third
    of the bytes of matplotlib's RGBA PNG and quicker to encode. Octree quantization without
    dithering is deterministic, and on an opaque white figure the loss is not visible."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    image = Image.fromarray(np.ascontiguousarray(rgb)).quantize(
        colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=6)
    return buffer.getvalue()


def text_width(lines: Sequence[str], size: float) -> float:
    """Width in inches of the widest line in DejaVu Sans at `size` points (no drawing needed)."""
    prop = FontProperties(family="DejaVu Sans", size=size)
    widths = [_TEXT_PATHS.get_text_width_height_descent(line, prop, ismath=False)[0] for line in lines if line]
    return max(widths, default=0.0) / 72


def set_margins(fig: Figure, *, left: float, right: float, top: float, bottom: float, **spacing) -> None:
    """Fixed margins in inches. A fixed layout draws once; constrained layout would draw twice."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        **spacing)


def plot_claims(claims: Sequence[ClaimEstimates], title: str, colors: Mapping[str, str]) -> bytes:
    """Claimed vs achieved for `claims` (top to bottom in the given order); returns PNG bytes."""
    rows = sum(max(1, len(c.sources)) for c in claims)
    labels = [c.label if c.claimed is not None else f"{c.label}\n(no claimed value)" for c in claims]
    sources = {est.source for c in claims for est in c.sources}
    legend_rows = math.ceil((len(sources) + 7) / 2)
    label_width = text_width([line for label in labels for line in label.split("\n")], STYLE["font.size"])
    plot_height = 0.3 + 0.32 * rows + 0.25 * len(claims)
    bottom = 0.6 + 0.2 * legend_rows
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(max(8.0, label_width + 6.0), plot_height + bottom + 0.4), dpi=DPI)
        set_margins(fig, left=label_width + 0.3, right=0.2, top=0.35, bottom=bottom)
        ax = fig.add_subplot()
        y = 0.0
        ticks, shown = [], {}
        for claim in claims:
            slots = max(1, len(claim.sources))
            top, bottom = y, y + slots
            _draw_claimed(ax, claim, top, bottom)
            for k, est in enumerate(claim.sources):
                draw_estimate(ax, est, top + k + 0.5, colors[est.source])
                shown.setdefault(est.source, est.comparable)
            ticks.append((top + bottom) / 2)
            y = bottom + 0.6
            ax.axhline(y - 0.3, color="0.8", linewidth=0.6)
        ax.set_yticks(ticks, labels)
        ax.set_ylim(y - 0.3, -0.3)
        ax.set_xlim(*_x_range(claims))
        ax.set_xlabel("test accuracy (%)  [metric as claimed: exact accuracy or ARC pass@2]")
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
        fig.legend(handles=_claims_legend(shown, colors), loc="lower center", ncol=2, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
        return to_png(fig)


def _draw_claimed(ax, claim: ClaimEstimates, top: float, bottom: float) -> None:
    if claim.claimed is None:
        return
    ax.fill_betweenx([top, bottom], claim.claimed - claim.tolerance_pp, claim.claimed + claim.tolerance_pp,
                     color="0.85", linewidth=0, zorder=0)
    ax.plot([claim.claimed, claim.claimed], [top, bottom], color="black", linewidth=2, zorder=1)
    for value in claim.other_values:
        ax.plot([value, value], [top, bottom], color="black", linewidth=1.2, linestyle=":", zorder=1)


def draw_estimate(ax, est: SourceEstimate, y: float, color: str) -> None:
    """One source's estimate at height y: seeds as dots just above, ±1 SD (thick), 95% CI (capped),
    an unstated ± (dashed) and the mean (diamond, hollow for a proxy)."""
    face = color if est.comparable else "white"
    if est.values:
        ax.plot(est.values, [y + 0.22] * len(est.values), linestyle="none", marker="o", markersize=3,
                color=color, alpha=0.7, zorder=3)
    if est.mean is None:
        return
    if est.sd is not None:
        ax.plot([est.mean - est.sd, est.mean + est.sd], [y, y], color=color, linewidth=5, alpha=0.35,
                solid_capstyle="butt", zorder=2)
    if est.ci95 is not None:
        low, high = est.ci95
        ax.errorbar([est.mean], [y], xerr=[[est.mean - low], [high - est.mean]], fmt="none", ecolor=color,
                    elinewidth=1.2, capsize=4, zorder=2)
    if est.published_pm is not None:
        bar = ax.errorbar([est.mean], [y], xerr=[[est.published_pm], [est.published_pm]], fmt="none",
                          ecolor=color, elinewidth=1.2, capsize=4, zorder=2)
        bar[2][0].set_linestyle("--")
    ax.plot([est.mean], [y], marker="D", markersize=6, markerfacecolor=face, markeredgecolor=color,
            markeredgewidth=1.5, linestyle="none", zorder=4)


def estimate_extent(est: SourceEstimate) -> list[float]:
    """The x positions one estimate draws at: its seeds, mean +- the larger of SD and published ±, its CI."""
    xs = list(est.values)
    if est.mean is not None:
        spread = max(est.sd or 0.0, est.published_pm or 0.0)
        xs += [est.mean - spread, est.mean + spread]
    if est.ci95 is not None:
        xs += list(est.ci95)
    return xs


def _x_range(claims: Sequence[ClaimEstimates]) -> tuple[float, float]:
    xs = []
    for claim in claims:
        if claim.claimed is not None:
            xs += [claim.claimed - claim.tolerance_pp, claim.claimed + claim.tolerance_pp]
        xs += list(claim.other_values)
        for est in claim.sources:
            xs += estimate_extent(est)
    if not xs:
        return 0.0, 100.0
    low, high = min(xs), max(xs)
    pad = max(2.0, 0.05 * (high - low))
    return max(-1.0, low - pad), min(101.0, high + pad)


def _claims_legend(shown: Mapping[str, bool], colors: Mapping[str, str]) -> list:
    handles = [
        Line2D([], [], color="black", linewidth=2, label="claimed value (as registered)"),
        Line2D([], [], color="black", linewidth=1.2, linestyle=":", label="another published value"),
        Patch(color="0.85", label="claimed ± tolerance"),
    ]
    for source in sorted(shown):
        comparable = shown[source]
        handles.append(Line2D([], [], marker="D", linestyle="none", markeredgecolor=colors[source],
                              markerfacecolor=colors[source] if comparable else "white", markeredgewidth=1.5,
                              label=source if comparable else f"{source} (proxy: not comparable)"))
    handles += [
        Line2D([], [], color="0.4", linewidth=5, alpha=0.35, label="±1 SD over seeds"),
        Line2D([], [], color="0.4", linewidth=1.2, marker="|", markersize=8,
               label="95% CI of the mean (Student t, clipped to [0, 100])"),
        Line2D([], [], color="0.4", linewidth=1.2, linestyle="--", marker="|", markersize=8,
               label="published ± (meaning not stated)"),
        Line2D([], [], color="0.4", marker="o", markersize=3, linestyle="none", label="one seed's value"),
    ]
    return handles


def plot_curves(title: str, metric: str, sources: Sequence[SourceCurves], colors: Mapping[str, str]) -> bytes:
    """Training curves of one claim: a row per source, [accuracy | loss] columns; returns PNG bytes."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(9.0, 1.5 + 2.6 * len(sources)), dpi=DPI)
        set_margins(fig, left=0.6, right=0.2, top=0.55, bottom=1.05, hspace=0.5, wspace=0.18)
        axes = fig.subplots(len(sources), 2, squeeze=False)
        for (acc_ax, loss_ax), src in zip(axes, sources):
            color = colors[src.source]
            name = src.source if src.comparable else f"{src.source} (proxy)"
            failed = sum(r.failed for r in src.runs)
            total = src.total if src.total is not None else len(src.runs)
            runs = (f"{len(src.runs)} run(s)" if total == len(src.runs)
                    else f"lowest {len(src.runs)} seeds of {total} runs")
            runs += f", {failed} failed" if failed else ""
            _draw_accuracy(acc_ax, src.runs, color)
            acc_ax.set_title(f"{name}: {metric} (%), {runs}")
            acc_ax.set_ylabel("%")
            _overlay(loss_ax, [r.loss for r in src.runs], [r.failed for r in src.runs], color, linewidth=0.9,
                     alpha=0.6)
            loss_ax.set_title(f"{name}: training loss")
            for ax in (acc_ax, loss_ax):
                ax.set_xlabel("optimizer step")
        fig.suptitle(title)
        fig.legend(handles=_curves_legend(), loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 0.0))
        return to_png(fig)


def _draw_accuracy(ax, runs: Sequence[RunCurve], color: str) -> None:
    failed = [r.failed for r in runs]
    _overlay(ax, [r.train for r in runs], failed, color, linewidth=0.8, alpha=0.35)
    _overlay(ax, [r.test for r in runs], failed, color, linewidth=1.6, alpha=0.9)
    for run in runs:
        steps, values = run.test
        at = dict(zip(steps, values))
        ax.plot(steps, values, linestyle="none", marker="o", markersize=2.5, color=color)
        # concentric when they coincide: large square (final), triangle (best), small star (selected)
        for step, style in ((run.final_step, _FINAL), (run.best_step, _BEST), (run.selected_step, _SELECTED)):
            if step is not None and step in at:
                ax.plot([step], [at[step]], linestyle="none", **style)
    # a percent axis from 0: flat or tiny curves are not blown up into noise
    values = [v for run in runs for series in (run.train, run.test) for v in series[1]]
    ax.set_ylim(-2, min(102.0, max([10.0, *values]) + 5))


def _overlay(ax, series: Sequence[tuple[Sequence[int], Sequence[float]]], failed: Sequence[bool], color: str, *,
             linewidth: float, alpha: float) -> None:
    """All seeds' lines in one collection each for completed and failed runs (fast with many seeds)."""
    drawn = False
    for stopped, style in ((False, "solid"), (True, "dashed")):
        segments = [list(zip(steps, values)) for (steps, values), f in zip(series, failed)
                    if len(steps) and f == stopped]
        if segments:
            ax.add_collection(LineCollection(segments, colors=color, linewidths=linewidth, alpha=alpha,
                                             linestyles=style))
            drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="0.5")
        return
    ax.autoscale_view()


_FINAL = dict(marker="s", markersize=11, markerfacecolor="none", markeredgecolor="0.2", markeredgewidth=1.0)
_BEST = dict(marker="^", markersize=8, markerfacecolor="none", markeredgecolor="#D55E00", markeredgewidth=1.3)
_SELECTED = dict(marker="*", markersize=7, markerfacecolor="black", markeredgecolor="black", markeredgewidth=0.5)


def _curves_legend() -> list:
    return [
        Line2D([], [], color="0.4", linewidth=0.8, alpha=0.5, label="train batches (long runs: binned means)"),
        Line2D([], [], color="0.4", linewidth=1.6, marker="o", markersize=2.5, label="test (each evaluation)"),
        Line2D([], [], color="0.4", linewidth=1.2, linestyle="--", label="failed run (stopped early)"),
        Line2D([], [], linestyle="none", label="selected by the checkpoint rule", **_SELECTED),
        Line2D([], [], linestyle="none", label="final evaluation", **_FINAL),
        Line2D([], [], linestyle="none", label="best evaluation (chosen on test: biased)", **_BEST),
    ]
