"""Alerts: each check against a source built to break in known ways (an SLA breach, a growing backlog of old
tickets, a missed target, a burst outside the forecast) and against the demo's injected spikes; the alert's fields
and stable key; delivery to a real local HTTP server and SMTP sink; dedupe with --state, "resolved" messages,
bounded retries and nothing marked sent unless delivered."""

from __future__ import annotations

import datetime as dt
import email
import json
import re
import socketserver
import threading
from collections.abc import Iterator
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import polars as pl
import pytest

from queries import cli
from queries.analyses.alerts import (
    ALERT_VIEWS,
    DEFAULT_SLA_GOAL,
    KINDS,
    Alert,
    AlertRun,
    AlertSettings,
    alert_link,
    band_alerts,
    detect_alerts,
    spike_alerts,
)
from queries.analyses.targets import Targets, load_targets
from queries.display import display_value
from queries.sla import load_sla_policy
from queries.sources.dataset import load_dataset

FIRST = dt.date(2026, 3, 2)  # a Monday; the source runs to Sunday Apr 12
LAST = dt.date(2026, 4, 12)
BREACH = [dt.date(2026, 4, 1), dt.date(2026, 4, 2), dt.date(2026, 4, 3)]  # live_p1 misses 16 of its 40 a day
LEFT_OPEN_FROM = dt.date(2026, 4, 4)  # from this day, 8 `other` tickets a day are never closed
SINCE, UNTIL = dt.date(2026, 3, 30), LAST
LIVE, OTHER = "Live P1: 5 min", "Other: 1 h"
POLICY = f"""
[[rule]]
name = "{LIVE}"
queue = "live_p1"
target_seconds = 300

[[rule]]
name = "{OTHER}"
target_seconds = 3600
"""
TARGETS = '[[targets]]\nmetric = "sla"\nmeasure = "attainment"\ngoal = 0.95\ndirection = "at_least"\n'


def _tickets() -> list[dict]:
    """Per day 40 live_p1 tickets (actioned in 30–230 s; on BREACH days 16 of them after 15 min) and 10 `other`
    tickets (actioned in 5 min, closed in 30 — but from LEFT_OPEN_FROM on, 8 of them never closed)."""
    rows = []
    for d in range((LAST - FIRST).days + 1):
        day = FIRST + dt.timedelta(days=d)
        for i in range(40):
            created = dt.datetime.combine(day, dt.time(6)) + dt.timedelta(minutes=20 * i)
            late = day in BREACH and i % 5 < 2
            delay = dt.timedelta(seconds=900 if late else 30 + (i * 7) % 200)
            rows.append(_row(f"l{d}-{i}", created, delay, dt.timedelta(minutes=40), "live_p1", i))
        for i in range(10):
            created = dt.datetime.combine(day, dt.time(8)) + dt.timedelta(minutes=50 * i)
            left_open = day >= LEFT_OPEN_FROM and i < 8
            rows.append(
                _row(
                    f"o{d}-{i}",
                    created,
                    dt.timedelta(minutes=5),
                    None if left_open else dt.timedelta(minutes=30),
                    "other",
                    i,
                )
            )
    return rows


def _row(ticket: str, created: dt.datetime, action: dt.timedelta, close: dt.timedelta | None, queue: str, i: int):
    return {
        "ticket_id": ticket,
        "created_at": created,
        "first_action_at": created + action,
        "closed_at": created + close if close else None,
        "queue": queue,
        "policy_domain": ("hate", "spam")[i % 2],
        "market": ("US", "DE")[i % 2],
    }


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("alerting")
    pl.DataFrame(_tickets()).write_parquet(root / "tickets.parquet")
    (root / "sla.toml").write_text(POLICY)
    (root / "targets.toml").write_text(TARGETS)
    return root


def _run(ops: Path, since=SINCE, until=UNTIL, targets: Targets | None = None, **settings):
    return detect_alerts(
        load_dataset(ops),
        since,
        until,
        load_targets(ops / "targets.toml") if targets is None else targets,
        load_sla_policy(ops / "sla.toml"),
        AlertSettings(base_url="https://bellwether.example", **settings),
    )


# --- the checks -------------------------------------------------------------------------------------------------


def test_a_deliberate_sla_breach_is_one_alert_with_its_numbers_and_a_link(ops: Path):
    run = _run(ops)
    sla = [a for a in run.alerts if a.kind == "sla"]
    assert len(sla) == 1
    alert = sla[0]
    met = sum(  # by hand: the live_p1 tickets of the breach days actioned within 300 s
        1
        for r in _tickets()
        if r["queue"] == "live_p1"
        and r["created_at"].date() in BREACH
        and (r["first_action_at"] - r["created_at"]).total_seconds() <= 300
    )
    assert (alert.start, alert.end, alert.status, alert.severity) == (BREACH[0], BREACH[-1], "ended", "critical")
    assert alert.groups == (("sla_rule", LIVE),) and met == 72
    assert alert.key == f"sla|sla_rule={LIVE}|{BREACH[0]}"
    assert f"SLA below goal for {LIVE}: 60.0% within target (72 of 120) vs a goal of 95.0%" in alert.message
    assert "from 2026-04-01 to 2026-04-03, ended." in alert.message
    assert alert.link.startswith("https://bellwether.example/turnaround?start=2026-03-07&end=2026-04-03")
    assert "turnaround.tab=sla&turnaround.sla_by=sla_rule" in alert.link  # the page's identifiers, not its labels
    record = alert.as_record()
    assert set(record) == {"kind", "key", "severity", "status", "start", "end", "groups", "message", "link"}
    assert record["groups"] == {"sla_rule": LIVE}


def test_without_a_target_the_sla_floor_is_the_default(ops: Path):
    alert = next(a for a in _run(ops, targets=Targets((), None)).alerts if a.kind == "sla")
    assert f"vs a goal of {DEFAULT_SLA_GOAL:.1%}" in alert.message and "the default floor" in alert.message


def test_backlog_aging_alerts_when_old_open_tickets_grow(ops: Path):
    alert = next(a for a in _run(ops).alerts if a.kind == "backlog_aging")

    def aged(day: dt.date) -> int:  # open at the day's end and created more than 1 h (the longest target) before
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        return sum(
            1
            for r in _tickets()
            if r["created_at"] < end - dt.timedelta(hours=1) and (r["closed_at"] is None or r["closed_at"] >= end)
        )

    growing = [
        d
        for d in (LEFT_OPEN_FROM + dt.timedelta(days=k) for k in range(-3, (UNTIL - LEFT_OPEN_FROM).days + 1))
        if aged(d) - aged(d - dt.timedelta(days=7)) >= max(20, 0.25 * aged(d - dt.timedelta(days=7)))
    ]
    assert (alert.start, alert.end, alert.status) == (growing[0], UNTIL, "ongoing")
    assert growing[0] == LEFT_OPEN_FROM + dt.timedelta(days=2)  # 24 old open tickets: past the 20 needed
    now, before = aged(UNTIL), aged(UNTIL - dt.timedelta(days=7))
    assert f"{now:,} open tickets older than 1.0 h" in alert.message and f"up from {before:,}" in alert.message
    assert alert.severity == "critical" and alert.groups == ()


def test_a_missed_target_alerts_over_the_days_whose_week_missed_it(ops: Path):
    alert = next(a for a in _run(ops).alerts if a.kind == "target")
    # trailing 7 days holding two or three breach days: 1 - 32/350 = 90.9 % or less, clearly under 95 %;
    # one breach day (1 - 16/350 = 95.4 %) meets it
    assert (alert.start, alert.end, alert.status) == (dt.date(2026, 4, 2), dt.date(2026, 4, 8), "ended")
    assert alert.groups == (("metric", "sla"), ("measure", "attainment"))
    assert "SLA attainment was 90.9% vs goal ≥ 95.0% over the 7 days to 2026-04-08 (350 tickets measured)" in (
        alert.message
    )


def test_nothing_else_alerts_and_the_order_is_most_severe_then_latest(ops: Path):
    run = _run(ops)
    assert sorted(a.kind for a in run.alerts) == ["backlog_aging", "sla", "target"]  # steady volume: no spike
    assert [a.severity for a in run.alerts] == sorted((a.severity for a in run.alerts), key=lambda s: s != "critical")
    assert run.skipped == []  # every check but the forecast band's (forecasting.alerts) could run


def test_a_check_not_made_is_named_by_its_kind_for_the_command_line_and_in_words_for_people(ops: Path, tmp_path: Path):
    path = tmp_path / "targets.toml"
    path.write_text(
        '[[targets]]\nmetric = "qa_accuracy"\nmeasure = "accuracy"\ngoal = 0.9\ndirection = "at_least"\n'
        'where = { policy_domain = "youth_safety", market = "BR" }\n'
    )
    run = _run(ops, targets=load_targets(path))  # this source has no QA reviews: the target cannot be evaluated
    (note,) = run.skipped
    assert note.startswith("target: not evaluated: QA accuracy for Market: BR; Policy domain: Youth safety ≥ ")
    (words,) = run.skipped_words
    assert words == "Target" + note.removeprefix("target")
    banded = AlertRun(SINCE, UNTIL, [], ["forecast_band: needs 56 days of data", "backlog_aging: no open tickets"])
    assert banded.skipped_words == ["Forecast band: needs 56 days of data", "Backlog aging: no open tickets"]


def test_keys_stay_the_same_as_the_days_checked_move_on(ops: Path):
    first = {a.kind: a.key for a in _run(ops, since=dt.date(2026, 4, 2)).alerts}
    later = {a.kind: a.key for a in _run(ops, since=dt.date(2026, 4, 3)).alerts}
    assert first == later  # the checks look back before `since`: an alert keeps its first day
    assert first["sla"] == f"sla|sla_rule={LIVE}|2026-04-01"
    after = {a.kind for a in _run(ops, since=dt.date(2026, 4, 9)).alerts}
    assert after == {"backlog_aging"}  # the SLA breach and the missed target ended before Apr 9


def test_links_use_the_base_url_setting(ops: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("BELLWETHER_BASE_URL", "https://ops.example/bellwether/")
    assert AlertSettings().base_url == "https://ops.example/bellwether/"
    common = [
        "alerts",
        "--source",
        str(ops),
        "--sla-policy",
        str(ops / "sla.toml"),
        "--targets",
        str(ops / "targets.toml"),
    ]
    assert cli.main([*common, "--since", str(SINCE), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)["alerts"]
    assert records and all(r["link"].startswith("https://ops.example/bellwether/") for r in records)
    assert cli.main([*common, "--since", str(SINCE), "--format", "json", "--base-url", "http://dash:8501"]) == 0
    assert all(r["link"].startswith("http://dash:8501/") for r in json.loads(capsys.readouterr().out)["alerts"])


def test_alert_detection_finds_the_demo_s_injected_spikes(data_dir: Path):
    ds = load_dataset(data_dir / "demo")
    since, until = dt.date(2026, 3, 17), dt.date(2026, 6, 30)  # the data start on Mar 3
    alerts, why = spike_alerts(ds, since, until, AlertSettings())
    assert why is None and alerts
    tickets = ds.tables["tickets"].with_columns(pl.col("created_at").dt.date().alias("day"))
    truth = pl.read_csv(data_dir / "demo" / "truth" / "spikes.csv", try_parse_dates=True)
    checked = 0
    for spike in truth.filter(pl.col("start") >= since).iter_rows(named=True):
        group = tickets.filter(pl.col("policy_domain") == spike["policy_domain"])
        if spike["market"]:
            group = group.filter(pl.col("market") == spike["market"])
        days = (spike["end"] - spike["start"]).days + 1
        before = group.filter(
            pl.col("day").is_between(spike["start"] - dt.timedelta(days=28), spike["start"] - dt.timedelta(days=1))
        )
        excess = group.filter(pl.col("day").is_between(spike["start"], spike["end"])).height - before.height / 28 * days
        if excess < 30:  # a few tickets over a handful a day: lost in the noise of a 300-a-day demo
            continue
        checked += 1
        found = [
            a
            for a in alerts
            if dict(a.groups)["policy_domain"] == spike["policy_domain"]
            and a.start <= spike["end"]
            and spike["start"] <= a.end
            and (
                spike["market"] is None
                or dict(a.groups).get("market") == spike["market"]
                or f"{spike['market']} (×" in a.message  # a market's spike inside its domain's is named there
            )
        ]
        assert found, f"injected spike not alerted: {spike}"
        assert all(a.kind == "spike" and a.status == "ended" and "tickets vs" in a.message for a in found)
        named = f"Policy domain: {display_value('policy_domain', spike['policy_domain'])}"
        assert all(a.message.startswith(f"Spike ({named}") for a in found if len(a.groups) == 1)
    assert checked >= 4
    assert [a.message for a in alerts if RAW.search(a.message)] == []  # the demo's domains are snake_case


def test_band_alerts_runs_of_days_outside_the_95_band_per_total_and_domain(ops: Path):
    days = [dt.date(2026, 4, 1) + dt.timedelta(days=i) for i in range(10)]
    band = {"total": (100.0, 80.0, 120.0), "hate": (50.0, 40.0, 60.0), "spam": (50.0, 40.0, 60.0)}
    actuals = {
        "total": [100] * 10,
        "hate": [50, 50, 90, 95, 50, 50, 50, 50, 50, 66],  # above on days 3–4; on day 10 only 6 over: no news
        "spam": [50] * 7 + [20, 50, 50],  # below on day 8
    }
    bands = pl.DataFrame(
        [
            {"series": s, "ds": d, "actual": float(a), "mean": band[s][0], "lo_95": band[s][1], "hi_95": band[s][2]}
            for s, values in actuals.items()
            for d, a in zip(days, values, strict=True)
        ]
    )
    alerts = band_alerts(load_dataset(ops), bands, "policy_domain", days[0], days[-1], AlertSettings(base_url="x"))
    by = {(dict(a.groups).get("policy_domain", "total"), a.message.split()[1]): a for a in alerts}
    assert set(by) == {("hate", "above"), ("spam", "below")}
    hate = by[("hate", "above")]
    assert (hate.start, hate.end, hate.status, hate.kind) == (days[2], days[3], "ended", "forecast_band")
    assert "Tickets above the forecast (Policy domain: Hate): 185 vs 100 forecast (95 % band up to 120)" in hate.message
    assert hate.key == "forecast_band|policy_domain=hate|2026-04-03"
    assert by[("spam", "below")].start == days[7] and by[("spam", "below")].end == days[7]


def test_a_burst_outside_the_forecast_band_alerts_for_its_domain_and_the_total(tmp_path: Path):
    from forecasting.alerts import forecast_bands

    rng = np.random.default_rng(3)
    first = dt.date(2026, 1, 5)
    weekly = np.array([1.0, 1.05, 1.1, 1.0, 0.95, 0.8, 0.75])
    rows, since = [], first + dt.timedelta(days=84)
    burst = [since + dt.timedelta(days=k) for k in (2, 3, 4)]
    for d in range(98):
        day = first + dt.timedelta(days=d)
        for domain, level in (("hate", 120), ("spam", 200)):
            n = rng.poisson(level * weekly[day.weekday()] * (3 if domain == "hate" and day in burst else 1))
            rows += [
                {
                    "ticket_id": f"{domain}{d}-{i}",
                    "created_at": dt.datetime.combine(day, dt.time(10)),
                    "policy_domain": domain,
                }
                for i in range(n)
            ]
    pl.DataFrame(rows).write_parquet(tmp_path / "tickets.parquet")
    ds = load_dataset(tmp_path)
    until = since + dt.timedelta(days=9)
    alerts = band_alerts(ds, forecast_bands(ds, since, until), "policy_domain", since, until, AlertSettings())
    above = {(dict(a.groups).get("policy_domain", "total"), a.start, a.end) for a in alerts if "above" in a.message}
    assert ("hate", burst[0], burst[-1]) in above and ("total", burst[0], burst[-1]) in above
    assert not [a for a in alerts if dict(a.groups).get("policy_domain") == "spam"]  # spam went on as forecast
    assert forecast_bands(ds, first + dt.timedelta(days=30), until) is None  # too little history to forecast from


# --- words for people, identifiers for machines ------------------------------------------------------------------

RAW = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b|\w+ ?= ?\w+")  # a snake_case identifier, or `field=value`


def _above_the_band(ops: Path, series: str) -> list[Alert]:
    """The band alerts of one series 60 tickets over its 95 % band for two days."""
    days = [dt.date(2026, 4, 1), dt.date(2026, 4, 2)]
    bands = pl.DataFrame(
        {"series": [series] * 2, "ds": days, "actual": [120.0] * 2, "mean": [50.0] * 2}
        | {"lo_95": [40.0] * 2, "hi_95": [60.0] * 2}
    )
    return band_alerts(load_dataset(ops), bands, "policy_domain", days[0], days[-1], AlertSettings(base_url="x"))


def test_messages_name_groups_by_their_display_names_and_the_machine_fields_keep_the_identifiers(
    ops: Path, tmp_path: Path
):
    (alert,) = _above_the_band(ops, "youth_safety")
    assert alert.message.startswith("Tickets above the forecast (Policy domain: Youth safety): 240 vs 100 forecast")
    assert RAW.findall(alert.message) == []
    assert alert.key == "forecast_band|policy_domain=youth_safety|2026-04-01"
    assert alert.as_record()["groups"] == {"policy_domain": "youth_safety"}
    (total,) = _above_the_band(ops, "total")
    assert total.message.startswith("Tickets above the forecast (all tickets): 240") and total.groups == ()

    targets = tmp_path / "targets.toml"
    targets.write_text(TARGETS + 'where = { policy_domain = "hate", market = ["US", "DE"] }\n')
    run = _run(ops, targets=load_targets(targets))
    target = next(a for a in run.alerts if a.kind == "target")
    assert "Target missed: SLA attainment for Market: DE, US; Policy domain: Hate was " in target.message
    assert target.groups == (
        ("metric", "sla"),
        ("measure", "attainment"),
        ("market", "DE,US"),
        ("policy_domain", "hate"),
    )
    assert [(a.kind, RAW.findall(a.message)) for a in run.alerts] == [(a.kind, []) for a in run.alerts]


# What each page parameter an alert link may carry can hold: the identifiers the page's from_url/section_picker
# accept (labels of older links are accepted too, silently: only the identifiers are checked here).
def _page_parameters() -> dict[str, set[str]]:
    from pages import turnaround

    return {"turnaround.tab": set(turnaround.SECTIONS), "turnaround.sla_by": set(turnaround.SLA_BY)}


def _parameters(link: str) -> tuple[str, dict[str, list[str]]]:
    """A link's page and its query parameters (each name with its values, in order)."""
    parts = urlsplit(link)
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query):
        params.setdefault(name, []).append(value)
    return parts.path.rstrip("/").rpartition("/")[2], params


def test_every_alert_link_carries_the_identifiers_of_the_page_it_opens(ops: Path):
    from queries.filters import DIMENSIONS

    allowed = _page_parameters()
    run = _run(ops, link_source="warehouse")
    links = [(a.kind, a.link) for a in [*run.alerts, *_above_the_band(ops, "youth_safety")]]
    links += [(kind, alert_link(AlertSettings(), kind, SINCE, UNTIL)) for kind in KINDS]
    assert {kind for kind, _ in links} == set(KINDS)
    for kind, link in links:
        page, params = _parameters(link)
        assert page == ALERT_VIEWS[kind][0] and params["start"] and params["end"], link
        for name, values in params.items():
            if "." in name:  # a page's own control: named by the page, holding one of its identifiers
                assert name.partition(".")[0] == page and set(values) <= allowed[name], link
            else:
                assert name in {"start", "end", "src", *DIMENSIONS}, link
    sla = next(a for a in run.alerts if a.kind == "sla")
    assert _parameters(sla.link)[1] == {
        "start": ["2026-03-07"],
        "end": ["2026-04-03"],
        "turnaround.tab": ["sla"],
        "turnaround.sla_by": ["sla_rule"],
        "src": ["warehouse"],
    }


def test_every_kind_of_alert_link_opens_its_view_without_a_warning(app_env, data_dir: Path):
    from tests.apptest import DEMO_END, run, widget

    domain = sorted(load_dataset(data_dir / "demo").tables["tickets"]["policy_domain"].unique())[0]
    selections = {"spike": (("policy_domain", domain), ("market", "BR")), "target": (("policy_domain", (domain,)),)}
    selections["forecast_band"] = (("policy_domain", domain),)
    start = DEMO_END - dt.timedelta(days=27)
    for kind in KINDS:
        page, params = _parameters(
            alert_link(AlertSettings(base_url=""), kind, start, DEMO_END, selections.get(kind, ()))
        )
        at = run(page, {name: values if len(values) > 1 else values[0] for name, values in params.items()})
        assert not at.warning, (kind, [w.value for w in at.warning])
        shown = {name: at.query_params[name] for name in params}  # the page keeps what it was given…
        assert shown == {name: values if len(values) > 1 else values[0] for name, values in params.items()}, kind
        for name, (value,) in ((n, v) for n, v in params.items() if "." in n):  # …and its controls show it
            assert widget(at, name).value == value, (kind, name)


# --- delivery ---------------------------------------------------------------------------------------------------


class Webhook:
    """A real local HTTP server: records each POST's JSON and answers with the next status of `statuses`."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.attempts = 0
        self.statuses: list[int] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.attempts += 1
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.posts.append(json.loads(body))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/secret-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class SmtpSink:
    """A real local SMTP server (just enough of RFC 5321): keeps each message; `refuse` answers DATA with 451."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse = 0
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.say("220 sink ESMTP")
                sender, recipients = "", []
                while line := self.rfile.readline().decode().rstrip("\r\n"):
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.say("250 sink")
                    elif verb == "MAIL":
                        sender, recipients = line.split(":", 1)[1].strip(" <>"), []
                        self.say("250 OK")
                    elif verb == "RCPT":
                        recipients.append(line.split(":", 1)[1].strip(" <>"))
                        self.say("250 OK")
                    elif verb == "DATA":
                        if sink.refuse:
                            sink.refuse -= 1
                            self.say("451 try again later")
                            continue
                        self.say("354 go ahead")
                        data = b""
                        while (chunk := self.rfile.readline()) != b".\r\n":
                            data += chunk
                        sink.messages.append((sender, recipients, data))
                        self.say("250 queued")
                    elif verb == "QUIT":
                        self.say("221 bye")
                        return
                    else:
                        self.say("250 OK")

            def say(self, text: str) -> None:
                self.wfile.write(f"{text}\r\n".encode())

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.server.shutdown()


def _alerts_cli(ops: Path, capsys, *more: str, until: dt.date = UNTIL) -> tuple[int, str, str]:
    argv = [
        "alerts", "--source", str(ops), "--sla-policy", str(ops / "sla.toml"), "--targets", str(ops / "targets.toml"),
        "--since", str(SINCE), "--until", str(until), "--retry-wait", "0", *more,
    ]  # fmt: skip
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_webhook_gets_one_slack_compatible_post_and_email_a_plain_and_html_digest(
    ops: Path, webhook: Webhook, smtp: SmtpSink, capsys
):
    code, out, err = _alerts_cli(
        ops, capsys, "--webhook", webhook.url, "--email", "lead@example.com, oncall@example.com", "--smtp", smtp.address
    )
    assert code == 0, err
    assert "3 alerts from 2026-03-30 to 2026-04-12." in out
    assert len(webhook.posts) == 1
    post = webhook.posts[0]
    assert post["text"].startswith("*Bellwether: 3 new alerts — ")
    assert [a["kind"] for a in post["alerts"]] == ["backlog_aging", "sla", "target"]
    assert f"<{post['alerts'][1]['link']}|Open the view>" in post["text"].replace("&amp;", "&")
    assert "webhook (http://127.0.0.1:" in err and "secret-token" not in err  # a webhook's token is a secret
    ((sender, recipients, raw),) = smtp.messages
    assert sender == "bellwether@localhost" and recipients == ["lead@example.com", "oncall@example.com"]
    message = email.message_from_bytes(raw, policy=email_policy.default)
    assert message["Subject"].startswith("Bellwether: 3 new alerts")
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "[critical] SLA below goal for Live P1: 5 min: 60.0% within target (72 of 120)" in plain
    assert "<table" in html and "60.0% within target (72 of 120)" in html and "href=" in html


def test_with_state_nothing_is_sent_twice_and_an_ended_alert_sends_one_resolved_message(
    ops: Path, webhook: Webhook, tmp_path: Path, capsys
):
    state = tmp_path / "state" / "alerts.json"
    # Apr 8: the target miss and the backlog are going on; the SLA breach is over (announced as ended)
    assert _alerts_cli(ops, capsys, "--webhook", webhook.url, "--state", str(state), until=dt.date(2026, 4, 8))[0] == 0
    assert [(a["kind"], a["status"]) for a in webhook.posts[0]["alerts"]] == [
        ("backlog_aging", "ongoing"),
        ("sla", "ended"),
        ("target", "ongoing"),
    ]
    saved = json.loads(state.read_text())
    assert saved["version"] == 1 and all("webhook" in e["sent"] for e in saved["alerts"])
    # the same day again: nothing new, nothing posted
    code, _, err = _alerts_cli(ops, capsys, "--webhook", webhook.url, "--state", str(state), until=dt.date(2026, 4, 8))
    assert code == 0 and len(webhook.posts) == 1 and "nothing new" in err
    # Apr 12: the target is met again (its alert ended): one "resolved" message, and the backlog is not repeated
    assert _alerts_cli(ops, capsys, "--webhook", webhook.url, "--state", str(state))[0] == 0
    resolved = webhook.posts[1]
    assert resolved["alerts"] == [] and [r["kind"] for r in resolved["resolved"]] == ["target"]
    assert resolved["text"].startswith("*Bellwether: 1 resolved") and ":white_check_mark: Resolved:" in resolved["text"]
    assert _alerts_cli(ops, capsys, "--webhook", webhook.url, "--state", str(state))[0] == 0
    assert len(webhook.posts) == 2  # and never again


def test_a_failing_webhook_is_retried_a_bounded_number_of_times_and_nothing_is_marked_sent(
    ops: Path, webhook: Webhook, smtp: SmtpSink, tmp_path: Path, capsys
):
    state = tmp_path / "alerts.json"
    webhook.statuses = [500] * 10
    code, _, err = _alerts_cli(
        ops, capsys, "--webhook", webhook.url, "--email", "lead@example.com", "--smtp", smtp.address,
        "--state", str(state), "--retries", "3",
    )  # fmt: skip
    assert code == 1
    assert webhook.attempts == 3 and webhook.posts == []
    assert "answered HTTP 500 (attempt 3 of 3)" in err and "nothing undelivered was marked as sent" in err
    assert len(smtp.messages) == 1  # the other channel got its digest…
    entries = json.loads(state.read_text())["alerts"]
    assert all("webhook" not in e["sent"] and "email" in e["sent"] for e in entries)  # …and only it is marked
    # the next run delivers what the webhook missed, and the e-mail is not sent twice
    webhook.statuses = [503]
    code, _, _ = _alerts_cli(
        ops, capsys, "--webhook", webhook.url, "--email", "lead@example.com", "--smtp", smtp.address,
        "--state", str(state),
    )  # fmt: skip
    assert code == 0 and webhook.attempts == 5 and len(webhook.posts[0]["alerts"]) == 3
    assert len(smtp.messages) == 1


def test_a_wrong_webhook_address_is_not_retried_and_an_smtp_refusal_is(
    ops: Path, webhook: Webhook, smtp: SmtpSink, capsys
):
    webhook.statuses = [404]
    code, _, err = _alerts_cli(ops, capsys, "--webhook", webhook.url, "--retries", "4")
    assert code == 1 and webhook.attempts == 1 and "HTTP 404 (attempt 1 of 4)" in err
    smtp.refuse = 1
    code, _, err = _alerts_cli(ops, capsys, "--email", "lead@example.com", "--smtp", smtp.address, "--retries", "2")
    assert code == 0 and len(smtp.messages) == 1  # the second attempt went through
    smtp.refuse = 5
    code, _, err = _alerts_cli(ops, capsys, "--email", "lead@example.com", "--smtp", smtp.address, "--retries", "2")
    assert code == 1 and "451 try again later" in err and "(attempt 2 of 2)" in err
    code, _, err = _alerts_cli(ops, capsys, "--email", "lead@example.com")
    assert code == 1 and "--email needs an SMTP server" in err


def test_an_unreadable_state_file_stops_before_sending(ops: Path, webhook: Webhook, tmp_path: Path, capsys):
    state = tmp_path / "alerts.json"
    state.write_text("{not json")
    code, _, err = _alerts_cli(ops, capsys, "--webhook", webhook.url, "--state", str(state))
    assert code == 1 and "cannot be read" in err and webhook.attempts == 0
    assert state.read_text() == "{not json"  # left as it was


# --- other engines ----------------------------------------------------------------------------------------------


def test_alerts_on_rollups_equal_the_rows(ops: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("BELLWETHER_ROLLUP_ROWS", "1")
    monkeypatch.setenv("BELLWETHER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BELLWETHER_SLA_POLICY", str(ops / "sla.toml"))  # the policy the rollups count with
    code, out, _ = _alerts_cli(ops, capsys, "--format", "json")
    assert code == 0
    found = json.loads(out)
    rows = {a.key: a.message for a in _run(ops).alerts}
    assert {a["key"]: a["message"] for a in found["alerts"]} == rows
    assert any(k.startswith("backlog_aging") for k in rows)  # the ages of open tickets, read by predicate
    assert not any(n.startswith("backlog_aging") for n in found["not_checked"])


def test_alerts_on_the_warehouse_equal_the_rows(ops: Path, postgres_database, capsys):
    url = postgres_database(ops)
    argv = [
        "alerts", "--source", url, "--sla-policy", str(ops / "sla.toml"), "--targets", str(ops / "targets.toml"),
        "--since", str(SINCE), "--until", str(UNTIL), "--format", "json",
    ]  # fmt: skip
    assert cli.main(argv) == 0
    found = json.loads(capsys.readouterr().out)
    rows = {a.key: a.message for a in _run(ops).alerts}
    assert {a["key"]: a["message"] for a in found["alerts"]} == rows
    assert any(k.startswith("backlog_aging") for k in rows)  # the ages of open tickets, from SQL
    assert not any(n.startswith("backlog_aging") for n in found["not_checked"])
