"""The leadership snapshot as one self-contained HTML file (charts embedded, no network needed to open it) and as
PDF, printed from that HTML by headless Chromium. No Streamlit here: the command line and the Overview page's
download both call `snapshot_html` / `snapshot_pdf`, so their figures are the same.

The figures come from queries.analyses.snapshot (and forecasting.outlook for the next weeks); the charts are the
dashboard's own (dashboard.charts). The HTML also embeds those figures as JSON (`<script id="bellwether-figures">`).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go
import plotly.offline
import polars as pl

from dashboard.charts.capacity import demand_supply_chart, forecast_chart
from dashboard.charts.turnaround import (
    attainment_trend_chart,
    backlog_flow_chart,
    percentile_trend_chart,
    sla_attainment_chart,
)
from dashboard.charts.volumes import movers_chart, weekly_trend_chart
from forecasting.outlook import Outlook, outlook
from queries.analyses.formatting import (
    format_change,
    format_goal,
    format_value,
    formatted_frame,
    is_signed_change,
    measure_label,
)
from queries.analyses.overview import Kpi
from queries.analyses.snapshot import Snapshot, build_snapshot, figures
from queries.analyses.targets import TargetResult, Targets, hint_summary
from queries.engines import Source
from queries.errors import SourceError
from queries.filters import Filters
from queries.sla import SlaPolicy

NEWS_NOTE = (
    "Green and red mark changes and goals that are news. Grey ones are not: the change or the distance to the goal is "
    "within the noise (a share's 95 % interval holds the other value; a count's change is within chance), or rests "
    "on fewer than 100 tickets (reviews, appeals)."
)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PRINT_BUDGET_MS = 20_000  # virtual time Chromium gives the page's scripts (the charts) before printing
PRINT_TIMEOUT_SECONDS = 180
PAGE_WIDTH_PX = 1040  # A4 landscape at 96 dpi, less the margins: charts are laid out at this width for print
CSS = """
@page { size: A4 landscape; margin: 10mm; }
body { font-family: "Source Sans Pro", "Helvetica Neue", Arial, sans-serif; color: #212121; margin: 0 auto;
       max-width: 1040px; padding: 16px; font-size: 13px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 22px 0 6px; border-bottom: 2px solid #E0E0E0;
     padding-bottom: 3px; } h3 { font-size: 14px; margin: 12px 0 4px; }
.meta, .note { color: #616161; } .note { font-size: 12px; margin: 2px 0 6px; }
.tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: 8px; }
.tile { border: 1px solid #E0E0E0; border-radius: 6px; padding: 8px 10px; break-inside: avoid; }
.tile .label { font-size: 12px; color: #424242; } .tile .value { font-size: 22px; font-weight: 600; margin: 2px 0; }
.tile .change, .tile .goal { font-size: 12px; } .tile .previous { font-size: 11px; color: #757575; }
.good { color: #1B5E20; } .bad { color: #B71C1C; } .neutral { color: #616161; }
.badge { display: inline-block; border-radius: 8px; padding: 0 6px; font-size: 11px; font-weight: 600; }
.badge.good { background: #E8F5E9; } .badge.bad { background: #FFEBEE; } .badge.neutral { background: #EEEEEE; }
table { border-collapse: collapse; width: 100%; font-size: 12px; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid #EEEEEE; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #FAFAFA; font-weight: 600; } td.num, th.num { text-align: right; white-space: nowrap; }
.chart { break-inside: avoid; width: 100%; } section { break-inside: auto; }
.keep { break-inside: avoid; } ul { margin: 4px 0; padding-left: 18px; }
"""


def build(
    ds: Source, filters: Filters, targets: Targets, sla_policy: SlaPolicy, source: str
) -> tuple[Snapshot, Outlook | None]:
    """The snapshot's figures, generated now, and the next weeks' outlook (None when there is too little history)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    snapshot = build_snapshot(ds, filters, targets, sla_policy, source, now)
    try:
        ahead = outlook(ds, filters)
    except ValueError as exc:  # too little history to forecast from
        snapshot.caveats.append(f"No forecast for the next weeks: {exc}")
        ahead = None
    return snapshot, ahead


def snapshot_html(snapshot: Snapshot, ahead: Outlook | None, targets: Targets) -> str:
    """The whole review as one HTML document: figures, tables, charts (Plotly embedded) and the figures as JSON."""
    f = snapshot.filters
    previous = f.previous()
    selection = "; ".join(f"{d}: {', '.join(v)}" for d, v in f.selections().items()) or "all tickets"
    parts = [
        f"<h1>Weekly review: {f.start:%d %b %Y} to {f.end:%d %b %Y}</h1>",
        f'<p class="meta">{html.escape(selection)} · {f.days} days (UTC), compared with {previous.start} to '
        f"{previous.end} · source {html.escape(snapshot.source)} · data as of {snapshot.as_of:%Y-%m-%d %H:%M} UTC · "
        f"generated {snapshot.generated_at:%Y-%m-%d %H:%M} UTC</p>",
        "<h2>Key figures</h2>",
        _tiles(snapshot),
        f"<p class='note'>{NEWS_NOTE}</p>",
        *_targets(snapshot.targets, targets),
        _keep(
            "<h2>Weekly tickets by policy domain</h2>",
            '<p class="note">Full weeks (Monday start); the selected period is shaded, ▼ marks events.</p>',
            _chart(weekly_trend_chart(snapshot.trend, snapshot.events, highlight=(f.start, f.end))),
        ),
        *_movers(snapshot),
        *_spikes(snapshot),
        *_sla(snapshot, targets),
        *_backlog(snapshot),
        *_outlook(ahead),
        *_freshness(snapshot),
    ]
    data = json.dumps(figures(snapshot), default=str).replace("</", "<\\/")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Bellwether weekly review {f.start} to {f.end}</title><style>{CSS}</style>"
        f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        + "\n".join(parts)
        + f'<script type="application/json" id="bellwether-figures">{data}</script></body></html>'
    )


def _keep(*parts: str) -> str:
    """Parts printed on one page (a heading with its chart)."""
    return f"<div class='keep'>{''.join(parts)}</div>"


def _chart(fig: go.Figure) -> str:
    """A figure as an embedded div, laid out for the printed page's width."""
    fig.update_layout(width=PAGE_WIDTH_PX - 20, autosize=False)
    body = fig.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False})
    return f'<div class="chart">{body}</div>'


def _table(frame: pl.DataFrame, columns: dict[str, tuple[str, str]]) -> str:
    """A table of `columns` (column → (header, unit or "text")), values formatted as on the dashboard."""
    head = "".join(f'<th class="{"num" if u != "text" else ""}">{html.escape(h)}</th>' for h, u in columns.values())
    text = formatted_frame(frame, columns)
    rows = [
        "".join(
            f'<td class="{"num" if unit != "text" else ""}">{html.escape(cell)}</td>'
            for cell, (_, unit) in zip(row, columns.values(), strict=True)
        )
        for row in text.iter_rows()
    ]
    return f"<table><tr>{head}</tr>{''.join(f'<tr>{r}</tr>' for r in rows)}</table>"


def _status(result: TargetResult | None) -> tuple[str, str]:
    """(css class, words) of a target's status: good/bad when it is news, neutral with the hint otherwise."""
    if result is None:
        return "neutral", ""
    if result.status == "no_data":
        return "neutral", f"no data ({result.hint})" if result.hint else "no data"
    if result.hint:
        return "neutral", f"{result.status} · {hint_summary(result.hint)}"
    return ("good", "met") if result.status == "met" else ("bad", "missed")


def _tiles(snapshot: Snapshot) -> str:
    tiles = []
    for kpi in snapshot.kpis:
        judgement = snapshot.tiles[kpi.key]
        delta = format_change(kpi)
        tone = _tone(kpi, delta, judgement.change_hint)
        change = html.escape(delta or "")
        if judgement.change_hint and is_signed_change(delta):
            hint = judgement.change_hint
            change += f" <span title='{html.escape(hint)}'>({html.escape(hint_summary(hint))})</span>"
        goal = ""
        if judgement.goal:
            css, words = _status(judgement.goal)
            target = judgement.goal.target
            goal = (
                f"<div class='goal'>Goal {html.escape(format_goal(target.direction, target.goal, target.unit))} "
                f"<span class='badge {css}' title='{html.escape(judgement.goal.hint or '')}'>"
                f"{html.escape(words)}</span></div>"
            )
        previous = "" if kpi.no_previous else f"previous {format_value(kpi.previous, kpi.unit)}"
        value = format_value(kpi.value, kpi.unit) if not kpi.unavailable else "–"
        tiles.append(
            f"<div class='tile'><div class='label'>{html.escape(kpi.label)}</div><div class='value'>{value}</div>"
            f"<div class='change {tone}'>{change}</div><div class='previous'>{html.escape(previous)}</div>{goal}</div>"
        )
    return f"<div class='tiles'>{''.join(tiles)}</div>"


def _tone(kpi: Kpi, delta: str | None, hint: str | None) -> str:
    """good/bad for a change that is news in a direction that matters, neutral otherwise."""
    if not is_signed_change(delta) or kpi.higher_is_better is None or hint:
        return "neutral"
    return "good" if (delta[0] == "+") == kpi.higher_is_better else "bad"


def _targets(results: Sequence[TargetResult], targets: Targets) -> list[str]:
    if not results:
        return []
    rows = []
    for r in results:
        css, words = _status(r)
        t = r.target
        rows.append(
            f"<tr><td>{html.escape(measure_label(t.metric, t.measure))}</td>"
            f"<td>{html.escape(t.where_words if t.where else 'whole operation')}</td>"
            f"<td class='num'>{html.escape(format_goal(t.direction, t.goal, t.unit))}</td>"
            f"<td class='num'>{format_value(r.actual, t.unit)}</td>"
            f"<td class='num'>{format_value(r.previous, t.unit)}</td>"
            f"<td><span class='badge {css}'>{html.escape(words)}</span></td></tr>"
        )
    source = html.escape(Path(targets.file).name) if targets.file else "the targets file"
    return [
        "<h2>Targets</h2>",
        f"<p class='note'>Every target in force at the end of the period ({source}), over the period.</p>",
        "<table><tr><th>Measure</th><th>For</th><th class='num'>Goal</th><th class='num'>Actual</th>"
        f"<th class='num'>Previous period</th><th>Status</th></tr>{''.join(rows)}</table>",
    ]


def _movers(snapshot: Snapshot) -> list[str]:
    if snapshot.movers is None or snapshot.movers.is_empty():
        return []
    columns = {
        "policy_domain": ("Policy domain", "text"),
        "market": ("Market", "text"),
        "previous_tickets": ("Previous", "count"),
        "tickets": ("Tickets", "count"),
        "change": ("Change", "count_change"),
        "change_share": ("Change %", "share_change"),
    }
    return [
        _keep(
            "<h2>Top movers: policy domain × market</h2>",
            "<p class='note'>Largest change in tickets received vs the previous period.</p>",
            _table(snapshot.movers, columns),
        ),
        _chart(movers_chart(snapshot.movers)),
    ]


def _spikes(snapshot: Snapshot) -> list[str]:
    if snapshot.spikes is None:
        return []
    header = ["<h2>Top spikes</h2>"]
    if snapshot.spikes.is_empty():
        return [*header, "<p class='note'>No spike in the period.</p>"]
    columns = {c: (c.replace("_", " ").capitalize(), "text") for c in snapshot.spikes.columns if c not in _SPIKE}
    columns |= {
        "start": ("From", "text"),
        "end": ("To", "text"),
        "observed": ("Tickets", "count"),
        "expected": ("Expected", "count"),
        "ratio": ("Ratio", "ratio"),
        "status": ("Status", "text"),
    }
    return [
        _keep(
            *header,
            "<p class='note'>Largest excess over the expected volume (robust weekly-seasonal baseline), per policy "
            "domain × market.</p>",
            _table(snapshot.spikes, columns),
        )
    ]


_SPIKE = ("start", "end", "days", "observed", "expected", "excess", "ratio", "score", "status", "kind")


def _sla(snapshot: Snapshot, targets: Targets) -> list[str]:
    f = snapshot.filters
    out = ["<h2>Speed and SLA</h2>"]
    if snapshot.daily is not None:
        goals = {
            c: targets.goal_line("time_to_first_action", c, f.selections(), f.start, f.end)
            for c in ("p50_hours", "p90_hours", "mean_hours")
        }
        over_time = snapshot.daily.with_columns(pl.lit(None, pl.Float64).alias("p99_hours"))  # no P99 by day here
        out.append(
            _keep("<h3>Time to first action per day</h3>", _chart(percentile_trend_chart(over_time, goals=goals)))
        )
    if snapshot.sla is not None:
        steps = targets.goal_line("sla", "attainment", f.selections(), f.start, f.end)
        goal = (steps[-1][2], steps[-1][3]) if steps else None
        columns = {
            "sla_rule": ("SLA rule", "text"),
            "measured": ("Measured", "count"),
            "met": ("Within target", "count"),
            "attainment": ("Attainment", "share"),
        }
        out += [
            _keep(
                "<h3>SLA attainment by rule</h3>",
                _table(snapshot.sla, columns),
                _chart(sla_attainment_chart(snapshot.sla, "sla_rule", goal)),
            ),
        ]
        if snapshot.daily is not None and "attainment" in snapshot.daily.columns:
            out.append(_keep("<h3>SLA attainment per day</h3>", _chart(attainment_trend_chart(snapshot.daily, steps))))
    return out


def _backlog(snapshot: Snapshot) -> list[str]:
    if snapshot.backlog is None or snapshot.backlog.is_empty():
        return []
    last = snapshot.backlog.row(-1, named=True)
    oldest = format_value(last["oldest_open_hours"], "hours")
    return [
        _keep(
            "<h2>Backlog</h2>",
            f"<p class='note'>{last['open_end']:,} tickets open at the end of the period (the oldest open for "
            f"{oldest}), {snapshot.backlog['open_start'][0]:,} at its start. Bars: arrivals and closures per day.</p>",
            _chart(backlog_flow_chart(snapshot.backlog)),
        )
    ]


def _outlook(ahead: Outlook | None) -> list[str]:
    if ahead is None:
        return []
    weekly = ahead.weekly
    if ahead.plan.height:
        fte = ahead.plan.group_by("week").agg(pl.col("required_fte", "supply_fte").sum())
        weekly = weekly.join(fte, on="week", how="left").with_columns(
            (pl.col("supply_fte") - pl.col("required_fte")).alias("gap_fte")
        )
    columns = {
        "week": ("Week of", "text"),
        "days": ("Days", "count"),
        "mean": ("Forecast tickets", "count"),
        "lo_80": ("80 % low", "count"),
        "hi_80": ("80 % high", "count"),
    }
    if "required_fte" in weekly.columns:
        columns |= {
            "required_fte": ("Required FTE", "fte"),
            "supply_fte": ("Supplied FTE", "fte"),
            "gap_fte": ("Surplus (+) / deficit (−)", "fte"),
        }
    out = [
        _keep(
            "<h2>Next weeks: forecast and plan</h2>",
            "<p class='note'>Ticket forecast of the selection (models chosen by backtest) and the FTE it needs "
            "against the vendors' supply (baseline scenario of the Forecast &amp; capacity page).</p>",
            _chart(forecast_chart(ahead.history, ahead.forecast)),
        ),
        _keep(_table(weekly, columns)),
    ]
    if ahead.headline:
        h = ahead.headline
        worst = ", ".join(h.worst_group or ())
        out.append(
            f"<p class='note'>Worst vendor-week: {html.escape(worst)}, week of {h.worst_week}, "
            f"{h.worst_gap_fte:+.2f} FTE; {h.group_weeks_in_deficit} of {h.group_weeks} vendor-weeks in deficit.</p>"
        )
        out.append(_chart(demand_supply_chart(ahead.plan)))
    if ahead.note:
        out.append(f"<p class='note'>Capacity plan: {html.escape(ahead.note)}</p>")
    return out


def _freshness(snapshot: Snapshot) -> list[str]:
    columns = {
        "table": ("Table", "text"),
        "rows_loaded": ("Rows", "count"),
        "rows_rejected": ("Rejected", "count"),
        "latest": ("Latest", "text"),
        "age_hours": ("Age", "hours"),
    }
    caveats = "".join(f"<li>{html.escape(c)}</li>" for c in snapshot.caveats) or "<li>None.</li>"
    return [_keep("<h2>Data freshness and caveats</h2>", _table(snapshot.freshness, columns), f"<ul>{caveats}</ul>")]


def chromium_path() -> str | None:
    """The Chromium the PDF is printed with, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def snapshot_pdf(html_text: str) -> bytes:
    """The HTML printed to PDF (A4 landscape, as its stylesheet asks) by headless Chromium's own --print-to-pdf: no
    other package is needed. SourceError when Chromium is missing or cannot print."""
    chromium = chromium_path()
    if chromium is None:
        raise SourceError(
            "Writing the snapshot as PDF needs Chromium, which is not installed.",
            fix="Install it (Debian/Ubuntu: apt-get install chromium), or write HTML (--out FILE.html) and print it.",
        )
    with tempfile.TemporaryDirectory(prefix="bellwether-pdf-") as folder:
        page, pdf = Path(folder, "review.html"), Path(folder, "review.pdf")
        page.write_text(html_text, encoding="utf-8")
        command = [
            chromium,
            "--headless",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(folder, 'profile')}",  # a profile of its own: works beside a running Chromium
            "--no-pdf-header-footer",
            f"--virtual-time-budget={PRINT_BUDGET_MS}",  # the charts are drawn before the page is printed
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceError(
                "Chromium could not print the snapshot.", fix="Check that Chromium starts (chromium --version)."
            ) from exc
        if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            raise SourceError(
                f"Chromium could not print the snapshot (exit status {done.returncode}).",
                fix="Check that Chromium starts (chromium --version), or write HTML (--out FILE.html) and print it.",
                quote=done.stderr.strip()[-500:] or None,
            )
        return pdf.read_bytes()
