"""The fixed world of the demo: policy domains, markets, vendors and sites, the dated
things that happen in a period (launches, spikes, episodes), and every magnitude used
by the generator. Figures follow shared/DOMAIN.md; the ones marked (assumed) there are
planning guesses, kept here as named parameters so they can be tuned in one place.

Positions in time are fractions of the generated period (0 = first day, 1 = last day),
so any `days`/`end` gets the same story; spikes are jittered by the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

GENERATOR_VERSION = "1.1.0"

# --- size ---------------------------------------------------------------------------------

# Mean tickets a day by demo size. The default is a mid-size Live operation (DOMAIN.md: 10–20k
# tickets a day, 50–150 scheduled FTE); "small" keeps tests and quick looks fast. Staffing minimums
# (MIN_ON_FLOOR) are set for REFERENCE_TICKETS_PER_DAY and scale with the size, so a small demo is
# a scaled-down copy of the same operation.
SCALES = {"default": 12_000, "small": 2_000}
REFERENCE_TICKETS_PER_DAY = SCALES["default"]

# --- surfaces, queues, priorities -------------------------------------------------------

SURFACES = ("live_stream", "live_comment", "gift", "profile", "replay")
# Handle time per surface: the domain's "stream" or "comment" median times a factor.
SURFACE_USES_STREAM_HANDLE = (True, False, False, True, True)
SURFACE_HANDLE_FACTOR = (1.0, 1.0, 1.5, 0.6, 1.0)
# Viewers reached per second of waiting, by surface (median; lognormal across tickets).
SURFACE_VIEWS_PER_SECOND = (0.05, 0.02, 0.01, 0.002, 0.005)
VIEWS_SIGMA = 1.2
PROACTIVE_VIEWS_FACTOR = 0.2  # models flag streams before an audience gathers

QUEUES = ("live_p0", "live_p1", "live_comments", "gifts", "reports")
LIVE_QUEUES = ("live_p0", "live_p1")  # served first: they only see their own backlog
# Mean pickup delay once a reviewer is free (exponential), by queue, seconds.
QUEUE_PICKUP_MEAN_S = (20.0, 40.0, 120.0, 180.0, 600.0)

# --- sources and decisions --------------------------------------------------------------

# Tickets not found by a model: how they split across the reactive sources (sums to 1).
REACTIVE_SOURCE_SPLIT = (
    ("user_report", 0.69),
    ("escalation", 0.21),
    ("trusted_flagger", 0.07),
    ("legal", 0.03),
)
INTERNAL_SOURCES = ("escalation", "legal")  # always decided by the internal team
INTERNAL_P0_SHARE = 0.25  # share of human P0 tickets the internal team takes
# (P(violating), P(escalated)) of the first decision, by source; automation never escalates.
DECISION_BY_SOURCE = {
    "proactive_model": (0.70, 0.015),
    "user_report": (0.35, 0.015),
    "trusted_flagger": (0.80, 0.03),
    "escalation": (0.60, 0.05),
    "legal": (0.75, 0.10),
}
AUTOMATION_DELAY_MEAN_S = 4.0  # automated decisions land seconds after creation
HANDLE_SIGMA = 0.55  # lognormal spread of handle time around the median
ESCALATION_CLOSE_MEDIAN_H = 8.0  # escalated tickets close hours after the first action
ESCALATION_CLOSE_SIGMA = 0.8

APPEAL_RATE = 0.065  # of violating decisions
OVERTURN_HUMAN_BASE = 0.20  # at REFERENCE_ACCURACY; scales with the error rate
OVERTURN_HUMAN_RANGE = (0.10, 0.40)
OVERTURN_AUTOMATED = 0.40
REFERENCE_ACCURACY = 0.92

QA_SAMPLE_RATE = 0.02
QA_SAMPLE_RATE_P0 = 0.15
QA_DELAY_DAYS = (1.0, 3.0)
# Error type when QA disagrees, by the moderator's decision.
QA_ERRORS_WHEN_VIOLATING = (("over_enforcement", 0.6), ("wrong_policy", 0.3), ("technical", 0.1))
QA_ERRORS_WHEN_NON_VIOLATING = (("under_enforcement", 0.9), ("technical", 0.1))

# --- policy domains ---------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """A policy domain with its share of tickets and how it is handled."""

    name: str
    share: float  # of all tickets
    handle_stream_s: float  # median handle time of a stream review
    handle_comment_s: float  # median handle time of a comment review
    proactive: float  # share found by models
    automated: float  # share of all its tickets decided by automation alone
    qa_accuracy: float
    surface_mix: tuple[float, float, float, float, float]  # in SURFACES order
    imminent_harm: bool = False  # live-stream tickets are P0


DOMAINS = (
    # name, share, handle stream/comment s, proactive, automated, QA accuracy, surface mix, imminent harm
    Domain("sensitive_mature_themes", 0.20, 45, 6, 0.97, 0.40, 0.94, (0.55, 0.25, 0.03, 0.07, 0.10)),
    Domain("adult_nudity", 0.08, 40, 6, 0.97, 0.55, 0.95, (0.70, 0.10, 0.02, 0.10, 0.08)),
    Domain("regulated_goods_gifting", 0.22, 60, 8, 0.95, 0.35, 0.925, (0.35, 0.15, 0.40, 0.05, 0.05)),
    Domain("integrity_spam_scams", 0.18, 40, 5, 0.98, 0.70, 0.95, (0.50, 0.30, 0.05, 0.10, 0.05)),
    Domain("harassment_bullying", 0.06, 90, 10, 0.75, 0.15, 0.88, (0.25, 0.60, 0.02, 0.08, 0.05)),
    Domain("hateful_conduct", 0.04, 90, 10, 0.78, 0.20, 0.87, (0.30, 0.55, 0.01, 0.08, 0.06)),
    Domain("violent_extremism", 0.02, 100, 12, 0.85, 0.45, 0.90, (0.65, 0.15, 0.0, 0.05, 0.15), True),
    Domain("youth_safety", 0.10, 75, 8, 0.95, 0.20, 0.96, (0.55, 0.15, 0.15, 0.10, 0.05), True),
    Domain("self_harm_dangerous_acts", 0.05, 90, 10, 0.90, 0.15, 0.925, (0.70, 0.15, 0.0, 0.05, 0.10), True),
    Domain("privacy_security", 0.05, 60, 8, 0.80, 0.20, 0.925, (0.35, 0.25, 0.0, 0.30, 0.10)),
)
DOMAIN_NAMES = tuple(d.name for d in DOMAINS)
MARKET_DOMAIN_SIGMA = 0.2  # lognormal spread of a domain's share between markets (per seed)

# --- markets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bump:
    """A smooth yearly bump in volume: Gaussian in day-of-year around month/day."""

    month: int
    day: int
    width_days: float
    amplitude: float


NORTH_SUMMER = Bump(7, 25, 22, 0.08)
DECEMBER = Bump(12, 22, 10, 0.05)


@dataclass(frozen=True)
class Market:
    """A market: languages, clock, user base and how its volume moves."""

    code: str
    languages: tuple[tuple[str, float], ...]  # (ISO 639-1, share of tickets)
    utc_offset: int  # hours; no daylight saving in the demo
    dau_millions: float  # at the first generated day
    dau_growth: float  # per year
    tickets_per_dau: float  # relative abuse rate
    weekly_amplitude: float  # strength of WEEKLY_SHAPE
    yearly: tuple[Bump, ...]


MARKETS = (
    # code, languages, UTC offset, DAU (M), DAU growth/yr, tickets per DAU, weekly amplitude, yearly bumps
    Market("US", (("en", 0.85), ("es", 0.15)), -5, 38.0, 0.06, 1.00, 0.10, (NORTH_SUMMER, DECEMBER)),
    Market("GB", (("en", 1.0),), 0, 9.0, 0.04, 0.90, 0.08, (NORTH_SUMMER, DECEMBER)),
    Market("DE", (("de", 1.0),), 1, 8.0, 0.05, 0.80, 0.07, (NORTH_SUMMER, DECEMBER)),
    Market("FR", (("fr", 1.0),), 1, 8.0, 0.05, 0.85, 0.08, (NORTH_SUMMER, DECEMBER)),
    Market("BR", (("pt", 1.0),), -3, 26.0, 0.15, 1.25, 0.14, (Bump(1, 15, 25, 0.08), Bump(7, 15, 8, 0.04), DECEMBER)),
    Market("MX", (("es", 1.0),), -6, 15.0, 0.12, 1.15, 0.12, (Bump(7, 20, 20, 0.07), DECEMBER)),
    Market("ID", (("id", 1.0),), 7, 30.0, 0.35, 1.10, 0.09, (Bump(7, 5, 10, 0.07), Bump(12, 22, 10, 0.03))),
    Market("JP", (("ja", 1.0),), 9, 6.0, 0.08, 0.60, 0.05, (Bump(8, 10, 12, 0.06), DECEMBER)),
    Market("TR", (("tr", 1.0),), 3, 11.0, 0.10, 1.20, 0.10, (NORTH_SUMMER, Bump(12, 22, 10, 0.03))),
    Market(
        "PH", (("en", 0.55), ("tl", 0.45)), 8, 13.0, 0.20, 1.15, 0.12, (Bump(4, 25, 18, 0.06), Bump(12, 20, 14, 0.07))
    ),
)
MARKET_CODES = tuple(m.code for m in MARKETS)
LANGUAGES = tuple(dict.fromkeys(lang for m in MARKETS for lang, _ in m.languages))

# Live is a weekend product: Mon..Sun shape (mean 0), scaled by each market's amplitude.
WEEKLY_SHAPE = (-0.5, -0.6, -0.5, -0.3, 0.3, 1.0, 0.6)
DAU_WEEKLY_AMPLITUDE = 0.02
DAU_NOISE_SIGMA = 0.004  # AR(1) wobble of DAU, per day
DAU_NOISE_RHO = 0.8
DAY_NOISE_SIGMA = 0.05  # lognormal day × market noise on ticket volume
# Local-time share of a day's tickets by hour: peak 19–23, trough 3–7.
INTRADAY_LOCAL = (
    2.6, 1.9, 1.3, 0.9, 0.7, 0.6, 0.7, 1.0, 1.5, 2.0, 2.4, 2.8,
    3.2, 3.4, 3.5, 3.7, 4.0, 4.5, 5.2, 6.4, 7.4, 7.8, 7.0, 4.8,
)  # fmt: skip


@dataclass(frozen=True)
class Holiday:
    """A fixed-date holiday that lifts volume; `markets` empty = all markets."""

    month: int
    day: int
    days: int
    markets: tuple[str, ...]
    multiplier: float
    title: str


CHRISTIAN_MARKETS = ("US", "GB", "DE", "FR", "BR", "MX", "PH")
HOLIDAYS = (
    Holiday(12, 31, 1, (), 1.6, "New Year's Eve"),
    Holiday(1, 1, 1, (), 1.25, "New Year's Day"),
    Holiday(12, 24, 2, CHRISTIAN_MARKETS, 1.15, "Christmas"),
    Holiday(7, 4, 1, ("US",), 1.15, "Independence Day (US)"),
    Holiday(7, 14, 1, ("FR",), 1.12, "Bastille Day (FR)"),
    Holiday(10, 3, 1, ("DE",), 1.10, "German Unity Day (DE)"),
    Holiday(9, 7, 1, ("BR",), 1.12, "Independence Day (BR)"),
    Holiday(9, 16, 1, ("MX",), 1.15, "Independence Day (MX)"),
    Holiday(8, 17, 1, ("ID",), 1.15, "Independence Day (ID)"),
    Holiday(5, 3, 3, ("JP",), 1.15, "Golden Week (JP)"),
    Holiday(10, 29, 1, ("TR",), 1.12, "Republic Day (TR)"),
    Holiday(6, 12, 1, ("PH",), 1.12, "Independence Day (PH)"),
)

# --- vendors, sites, pools --------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A vendor site: clock, covered local hours and the languages it reviews."""

    name: str
    utc_offset: int
    hours: tuple[int, int]  # covered local hours [start, end); (0, 24) = round the clock
    languages: tuple[tuple[str, float], ...]  # (language, allocation weight within language)


@dataclass(frozen=True)
class Vendor:
    """An outsourced vendor or the internal team."""

    name: str
    attrition_per_year: float
    handle_factor: float
    accuracy_offset: float
    accuracy_by_domain: tuple[tuple[str, float], ...]  # strengths (+) and weaknesses (−)
    hiring_offset_days: int  # phase of the hiring-class cycle
    min_trained: int  # fewest people trained per pool; below that volume they are blended
    min_on_floor: float  # reviewers per pool at work through every covered hour (at the reference size)
    sites: tuple[Site, ...]
    internal: bool = False


INTERNAL = "internal"
VENDORS = (
    Vendor(
        name="atlas_cx",
        attrition_per_year=0.45,
        handle_factor=1.00,
        accuracy_offset=0.0,
        accuracy_by_domain=(("harassment_bullying", -0.03),),
        hiring_offset_days=0,
        min_trained=6,
        min_on_floor=0.75,
        sites=(
            Site("manila", 8, (0, 24), (("en", 0.45), ("tl", 1.0))),
            Site("bogota", -5, (6, 24), (("en", 0.15), ("es", 0.6), ("pt", 0.5))),
        ),
    ),
    Vendor(
        name="meridian_review",
        attrition_per_year=0.38,
        handle_factor=1.05,
        accuracy_offset=0.01,
        accuracy_by_domain=(),
        hiring_offset_days=7,
        min_trained=6,
        min_on_floor=0.75,
        sites=(
            Site("lisbon", 0, (0, 24), (("es", 0.4), ("pt", 0.5), ("fr", 0.4))),
            Site("berlin", 1, (6, 24), (("fr", 0.6), ("de", 0.7))),
        ),
    ),
    Vendor(
        name="sentinel_ops",
        attrition_per_year=0.50,
        handle_factor=0.95,
        accuracy_offset=-0.01,
        accuracy_by_domain=(("hateful_conduct", -0.08),),
        hiring_offset_days=14,
        min_trained=6,
        min_on_floor=0.75,
        sites=(
            Site("istanbul", 3, (0, 24), (("tr", 1.0), ("de", 0.3))),
            Site("jakarta", 7, (0, 24), (("id", 0.6), ("en", 0.2))),
        ),
    ),
    Vendor(
        name="harbor_trust",
        attrition_per_year=0.42,
        handle_factor=1.10,
        accuracy_offset=-0.015,
        accuracy_by_domain=(("youth_safety", 0.02), ("regulated_goods_gifting", -0.05)),
        hiring_offset_days=3,
        min_trained=6,
        min_on_floor=0.75,
        sites=(
            Site("tokyo", 9, (8, 24), (("ja", 1.0),)),
            Site("kuala_lumpur", 8, (0, 24), (("en", 0.2), ("id", 0.4))),
        ),
    ),
    Vendor(
        name=INTERNAL,
        attrition_per_year=0.12,
        handle_factor=1.40,  # escalations and legal cases take longer
        accuracy_offset=0.03,
        accuracy_by_domain=(),
        hiring_offset_days=10,
        min_trained=3,
        min_on_floor=0.2,  # multilingual escalation specialists: a fifth of a reviewer per language
        sites=(Site("dublin", 0, (0, 24), tuple((lang, 1.0) for lang in LANGUAGES)),),
        internal=True,
    ),
)
VENDOR_NAMES = tuple(v.name for v in VENDORS)


@dataclass(frozen=True)
class Pool:
    """Reviewers of one vendor site in one language: the unit of staffing and queueing."""

    vendor: str
    site: str
    language: str
    weight: float
    internal: bool


POOLS = tuple(Pool(v.name, s.name, lang, w, v.internal) for v in VENDORS for s in v.sites for lang, w in s.languages)

# --- staffing ---------------------------------------------------------------------------

PAID_HOURS = 8.0  # per shift
WORKDAYS_PER_WEEK = 5
PLANNED_SHRINKAGE = 0.32  # what planners assume
OCCUPANCY_TARGET = 0.80
ROSTER_BUFFER = 0.05  # roster and schedule kept this much above the plan
PLAN_WINDOW_DAYS = 28  # planners forecast from the trailing median of this window...
PLAN_LAG_DAYS = 7  # ...ending this many days ago
PLAN_SAFETY_Z = 1.0  # plus this many (robust) standard deviations of daily work
HIRING_CLASS_INTERVAL_DAYS = 21
HIRING_LAG_DAYS = 14  # a class is sized on the plan of this many days before it starts
RAMP_DAYS = 42
RAMP_START = 0.3  # productivity of a new hire on day one
SHRINKAGE_BASE = 0.31
SHRINKAGE_DECEMBER = Bump(12, 22, 12, 0.035)
SHRINKAGE_SUMMER = Bump(7, 30, 25, 0.015)
SHRINKAGE_NOISE = 0.006
SHRINKAGE_RANGE = (0.28, 0.38)
CAPACITY_SHAPE_WEIGHT = 0.7  # schedules follow the arrival curve this much; the rest is flat

# --- dated things -----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelLaunch:
    """A detection model: proactive volume of a domain steps up from that day on."""

    at: float
    domain: str
    proactive_multiplier: float
    title: str


@dataclass(frozen=True)
class SpikeTemplate:
    """A burst of one domain in one market (None = all); `news` titles an events row."""

    at: float
    domain: str
    market: str | None
    days: int
    multiplier: float
    news: str | None


@dataclass(frozen=True)
class PolicyChange:
    """A policy rewrite: accuracy in a domain drops for all vendors, recovering linearly."""

    at: float
    domain: str
    accuracy_drop: float
    weeks: int
    title: str


@dataclass(frozen=True)
class Training:
    """A training wave: a vendor's accuracy in a domain improves from that day on."""

    at: float
    vendor: str
    domain: str
    accuracy_gain: float
    title: str


@dataclass(frozen=True)
class StaffingEpisode:
    """Understaffing at one site: an attrition wave with a hiring freeze, or an outage."""

    at: float
    vendor: str
    site: str
    kind: str  # contract EVENT_KINDS
    days: int
    title: str
    leave_fraction: float = 0.0  # of the roster, leaving over `leave_days`
    leave_days: int = 1
    hiring_freeze: bool = False
    capacity_factor: float = 1.0  # share of scheduled time that can be worked


MODEL_LAUNCHES = (
    ModelLaunch(0.28, "regulated_goods_gifting", 1.35, "Gift-solicitation detector v2"),
    ModelLaunch(0.57, "hateful_conduct", 1.50, "Multilingual live hate-speech classifier"),
    ModelLaunch(0.83, "integrity_spam_scams", 1.30, "Static and looped stream detector"),
)
SPIKE_JITTER_DAYS = 3
SPIKES = (
    SpikeTemplate(0.08, "violent_extremism", None, 4, 4.0, "Attack livestream re-upload storm"),
    SpikeTemplate(0.16, "hateful_conduct", "BR", 7, 2.5, "Election run-off (BR)"),
    SpikeTemplate(0.24, "regulated_goods_gifting", "US", 5, 2.0, None),
    SpikeTemplate(0.31, "self_harm_dangerous_acts", None, 9, 3.0, "Viral dangerous challenge"),
    SpikeTemplate(0.39, "harassment_bullying", "TR", 4, 2.2, "Football derby riots (TR)"),
    SpikeTemplate(0.46, "integrity_spam_scams", None, 3, 1.8, None),
    SpikeTemplate(0.53, "privacy_security", "JP", 3, 2.5, None),
    SpikeTemplate(0.61, "hateful_conduct", "US", 8, 2.0, "Election week (US)"),
    SpikeTemplate(0.69, "regulated_goods_gifting", "TR", 6, 3.5, "Earthquake fake-donation streams (TR)"),
    SpikeTemplate(0.77, "youth_safety", "ID", 10, 1.7, None),
    SpikeTemplate(0.86, "sensitive_mature_themes", "MX", 3, 1.9, "Cartel violence footage (MX)"),
    SpikeTemplate(0.93, "adult_nudity", "PH", 2, 1.6, None),
)
POLICY_CHANGES = (
    PolicyChange(0.42, "regulated_goods_gifting", 0.10, 6, "Gift-solicitation policy rewrite"),
    PolicyChange(0.74, "sensitive_mature_themes", 0.06, 4, "Mature-themes guideline update"),
)
TRAININGS = (Training(0.65, "sentinel_ops", "hateful_conduct", 0.06, "Hate-speech refresher training (sentinel_ops)"),)
STAFFING_EPISODES = (
    StaffingEpisode(0.20, "atlas_cx", "manila", "outage", 3, "Typhoon closes atlas_cx Manila", capacity_factor=0.15),
    StaffingEpisode(
        0.50, "sentinel_ops", "jakarta", "other", 42, "Attrition wave and hiring freeze at sentinel_ops Jakarta",
        leave_fraction=0.50, leave_days=10, hiring_freeze=True,
    ),
)  # fmt: skip
