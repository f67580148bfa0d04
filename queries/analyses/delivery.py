"""Delivering alerts to people: a webhook (one JSON POST per run, Slack-compatible `text`), an e-mail digest
(plain text and HTML, through SMTP), and a state file that remembers what each channel has received.

With a state file, an alert already delivered to a channel is not delivered to it again: the same check and
groups whose days overlap (or come within MERGE_GAP_DAYS of) an alert it received is the same alert. When such an
alert has ended, or is no longer found in the days the checks looked at, the channel gets one "resolved" message.
An alert is recorded as delivered to a channel only after the channel accepted it; each channel is tried
`attempts` times per run, and a channel that failed gets the same alerts again on the next run.
Secrets never appear in messages: a webhook is named by its host, SMTP credentials come from the environment
(BELLWETHER_SMTP_USER, BELLWETHER_SMTP_PASSWORD).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import smtplib
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from queries.analyses.alerts import LOOKBACK_DAYS, Alert, AlertRun
from queries.analyses.spikes import MERGE_GAP_DAYS
from queries.errors import SourceError

STATE_VERSION = 1
KEEP_DAYS = 180  # state entries whose last day is this far before a run are forgotten
SEVERITY_ICONS = {"critical": ":red_circle:", "warning": ":large_orange_circle:"}
TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Delivery:
    """Where alerts go and how hard to try: `attempts` per channel and run, `wait_seconds` doubled in between."""

    webhook: str | None = None
    email_to: tuple[str, ...] = ()
    smtp_host: str | None = None
    smtp_port: int = 25
    email_from: str = "bellwether@localhost"
    attempts: int = 3
    wait_seconds: float = 2.0

    @property
    def channels(self) -> list[str]:
        return [c for c, on in (("webhook", self.webhook), ("email", self.email_to)) if on]


@dataclass
class Outcome:
    """What one channel got in this run, and the error when it refused."""

    channel: str
    where: str  # the webhook's host or the SMTP server, never a secret
    new: list[Alert] = field(default_factory=list)
    resolved: list[dict] = field(default_factory=list)
    error: str | None = None

    @property
    def sent(self) -> bool:
        return self.error is None and bool(self.new or self.resolved)


class AlertState:
    """The alerts each channel has received (a JSON file); nothing is written until `save`."""

    def __init__(self, path: Path | None, entries: list[dict]) -> None:
        self.path = path
        self.entries = entries

    @classmethod
    def load(cls, path: str | Path | None) -> AlertState:
        """Read a state file; a file that does not exist yet is an empty state, one that cannot be read an error."""
        if path is None:
            return cls(None, [])
        path = Path(path)
        if not path.exists():
            return cls(path, [])
        fix = "Restore the file, or delete it: alerts still going on will then be delivered once more."
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(f"Alert state file {path} cannot be read: {exc}.", fix=fix) from None
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION or not isinstance(raw.get("alerts"), list):
            raise SourceError(f"Alert state file {path} is not a Bellwether alert state (version 1).", fix=fix)
        return cls(path, raw["alerts"])

    def match(self, alert: Alert) -> dict | None:
        """The entry of the same alert: same check and groups, days overlapping or within MERGE_GAP_DAYS."""
        gap = dt.timedelta(days=MERGE_GAP_DAYS + 1)
        for entry in self.entries:
            if entry["kind"] != alert.kind or [tuple(g) for g in entry["groups"]] != list(alert.groups):
                continue
            start, end = dt.date.fromisoformat(entry["start"]), dt.date.fromisoformat(entry["end"])
            if start - gap <= alert.end and alert.start <= end + gap:
                return entry
        return None

    def record(self, alert: Alert) -> dict:
        """The alert's entry, created or widened to the alert's days (nothing is marked as delivered here)."""
        entry = self.match(alert)
        if entry is None:
            entry = {"kind": alert.kind, "groups": [list(g) for g in alert.groups], "sent": {}, "resolved": {}}
            entry |= {"key": alert.key, "start": alert.start.isoformat(), "end": alert.end.isoformat()}
            self.entries.append(entry)
        entry["start"] = min(entry["start"], alert.start.isoformat())
        entry["end"] = max(entry["end"], alert.end.isoformat())
        entry["message"] = alert.message
        entry["link"] = alert.link
        return entry

    def save(self, until: dt.date) -> None:
        """Write the state atomically (a crash never leaves half a file), forgetting entries older than KEEP_DAYS."""
        if self.path is None:
            return
        horizon = (until - dt.timedelta(days=KEEP_DAYS)).isoformat()
        kept = [e for e in self.entries if e["end"] >= horizon]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(prefix=".alert-state-", dir=self.path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"version": STATE_VERSION, "alerts": kept}, out, indent=2, sort_keys=True)
        os.replace(staging, self.path)


def pending(run: AlertRun, state: AlertState, channel: str) -> tuple[list[Alert], list[dict]]:
    """What `channel` has not received: the alerts it was not sent (all of them without a state file), and the
    entries it was sent whose alert has ended, or is no longer found in the days the checks looked at."""
    new, ended, matched = [], {}, set()
    for alert in run.alerts:
        entry = state.match(alert)
        if entry is not None:
            matched.add(id(entry))
        if entry is None or channel not in entry["sent"]:
            new.append(alert)
        elif alert.status == "ended" and channel not in entry["resolved"]:
            ended[id(entry)] = entry
    looked_from = (run.since - dt.timedelta(days=LOOKBACK_DAYS)).isoformat()
    for entry in state.entries:
        gone = id(entry) not in matched and entry["end"] >= looked_from
        if gone and channel in entry["sent"] and channel not in entry["resolved"]:
            ended[id(entry)] = entry
    return new, list(ended.values())


def deliver(run: AlertRun, state: AlertState, delivery: Delivery, title: str) -> list[Outcome]:
    """Send each channel what it has not received, record what it accepted, and save the state."""
    outcomes = []
    for alert in run.alerts:
        state.record(alert)
    for channel in delivery.channels:
        new, resolved = pending(run, state, channel)
        outcome = Outcome(channel, _where(channel, delivery), new, resolved)
        if new or resolved:
            try:
                _with_retries(partial(_send, channel, delivery, new, resolved, title), delivery)
            except DeliveryFailed as exc:
                outcome.error = str(exc)
        if outcome.sent:
            now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            for alert in new:
                entry = state.record(alert)
                entry["sent"][channel] = now
                if alert.status == "ended":  # announced as ended: no "resolved" message to follow
                    entry["resolved"][channel] = now
            for entry in resolved:
                entry["resolved"][channel] = now
        outcomes.append(outcome)
    state.save(run.until)
    return outcomes


class DeliveryFailed(Exception):
    """A channel did not accept the message; the text names the channel's host and the reason, no secret.
    `permanent`: trying again will not help (a wrong URL, a refused login)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _with_retries(send: Callable[[], None], delivery: Delivery) -> None:
    """Call `send` up to `delivery.attempts` times, waiting `wait_seconds`, doubled after each failure."""
    wait = delivery.wait_seconds
    for attempt in range(1, delivery.attempts + 1):
        try:
            send()
            return
        except DeliveryFailed as exc:
            if attempt == delivery.attempts or exc.permanent:
                raise DeliveryFailed(f"{exc} (attempt {attempt} of {delivery.attempts})") from None
        time.sleep(wait)
        wait *= 2


def _send(channel: str, delivery: Delivery, new: list[Alert], resolved: list[dict], title: str) -> None:
    if channel == "webhook":
        post_webhook(delivery.webhook, new, resolved, title)
    else:
        send_email(delivery, new, resolved, title)


def _where(channel: str, delivery: Delivery) -> str:
    """How a channel is named in messages: the webhook's host, or the SMTP server."""
    return _host(delivery.webhook) if channel == "webhook" else f"{delivery.smtp_host}:{delivery.smtp_port}"


def _host(url: str | None) -> str:
    """A webhook URL without its path and query, which often hold its secret token."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


# --- messages ---------------------------------------------------------------------------------------------------


def headline(new: Sequence[Alert], resolved: Sequence[dict], title: str) -> str:
    """E.g. "Bellwether: 3 new alerts, 1 resolved — demo, 2026-12-01 to 2026-12-05"."""
    parts = [f"{len(new)} new alert{'s' if len(new) != 1 else ''}"] if new else []
    parts += [f"{len(resolved)} resolved"] if resolved else []
    return f"Bellwether: {', '.join(parts)} — {title}"


def slack_text(new: Sequence[Alert], resolved: Sequence[dict], title: str) -> str:
    """The message as Slack mrkdwn: one line per alert with its link."""
    lines = [f"*{headline(new, resolved, title)}*"]
    lines += [f"• {SEVERITY_ICONS[a.severity]} {_slack_escape(a.message)} <{a.link}|Open the view>" for a in new]
    lines += [f"• :white_check_mark: Resolved: {_slack_escape(e['message'])} <{e['link']}|Open>" for e in resolved]
    return "\n".join(lines)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(new: Sequence[Alert], resolved: Sequence[dict], title: str) -> dict:
    """The JSON a webhook receives: Slack's `text`, then the alerts and the resolved ones as records."""
    return {
        "text": slack_text(new, resolved, title),
        "title": title,
        "alerts": [a.as_record() for a in new],
        "resolved": [
            {k: e[k] for k in ("kind", "key", "start", "end", "message", "link")} | {"groups": dict(e["groups"])}
            for e in resolved
        ],
    }


def post_webhook(url: str, new: Sequence[Alert], resolved: Sequence[dict], title: str) -> None:
    """POST the payload as JSON; any 2xx answer is delivery."""
    body = json.dumps(webhook_payload(new, resolved, title)).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "Bellwether"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code != 429  # a wrong URL or payload: trying again won't help
        raise DeliveryFailed(f"the webhook at {_host(url)} answered HTTP {exc.code}", permanent) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"the webhook at {_host(url)} could not be reached: {reason}") from None


def email_message(delivery: Delivery, new: Sequence[Alert], resolved: Sequence[dict], title: str) -> EmailMessage:
    """The digest: plain text, with an HTML alternative listing each alert and its link."""
    msg = EmailMessage()
    msg["Subject"] = headline(new, resolved, title)
    msg["From"] = delivery.email_from
    msg["To"] = ", ".join(delivery.email_to)
    text = [headline(new, resolved, title), ""]
    text += [f"[{a.severity}] {a.message}\n  {a.link}" for a in new]
    text += [f"[resolved] {e['message']}\n  {e['link']}" for e in resolved]
    msg.set_content("\n".join(text) + "\n")
    rows = [_html_row(a.severity, a.message, a.link) for a in new]
    rows += [_html_row("resolved", e["message"], e["link"]) for e in resolved]
    msg.add_alternative(
        f"<html><body><h2>{html.escape(headline(new, resolved, title))}</h2>"
        f'<table cellpadding="6" border="1" style="border-collapse:collapse">{"".join(rows)}</table></body></html>',
        subtype="html",
    )
    return msg


def _html_row(label: str, message: str, link: str) -> str:
    cells = (html.escape(label), html.escape(message), f'<a href="{html.escape(link)}">Open</a>')
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def send_email(delivery: Delivery, new: Sequence[Alert], resolved: Sequence[dict], title: str) -> None:
    """Send the digest through the SMTP server (STARTTLS when it offers it; login when credentials are set)."""
    where = f"{delivery.smtp_host}:{delivery.smtp_port}"
    user, password = os.environ.get("BELLWETHER_SMTP_USER"), os.environ.get("BELLWETHER_SMTP_PASSWORD")
    try:
        with smtplib.SMTP(delivery.smtp_host, delivery.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user:
                smtp.login(user, password or "")
            refused = smtp.send_message(email_message(delivery, new, resolved, title))
    except smtplib.SMTPAuthenticationError:
        raise DeliveryFailed(f"the SMTP server {where} refused the login of BELLWETHER_SMTP_USER", True) from None
    except smtplib.SMTPResponseException as exc:  # the server's own answer, e.g. "451 try again later"
        answer = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        raise DeliveryFailed(f"the SMTP server {where} answered {exc.smtp_code} {answer}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"the SMTP server {where} did not take the message: {exc}") from None
    if refused:
        raise DeliveryFailed(f"the SMTP server {where} refused {len(refused)} recipient(s)")
