"""The timeline's filters: read from the URL, checked as the API checks its list filters.

The URL is the whole state of a view, so a filtered timeline pasted into an incident channel
opens the same view for anyone in the organisation. Parameters carry the API's names
(``service_id``, ``change_type``, ...), plus ``cluster`` and ``namespace`` (shorthands for the
operator's ``cluster:``/``namespace:`` tags) and ``window`` (a span ending now).

Times without an offset mean UTC, as in the API, unless the request also carries ``tz``: the
filter form sends the browser's zone with its ``datetime-local`` fields, and the page then
redirects to the canonical URL (UTC, ``Z``) so what gets shared is unambiguous.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

from changetrail_api.changes.filters import ChangeFilters
from changetrail_api.domain import ChangeType, Outcome, RiskLevel
from changetrail_api.timefmt import parse_instant
from changetrail_api.web.zones import iso_utc, zone_named

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
MAX_OFFSET = 10_000_000
WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
# The same bounds as the API's list parameters.
_MAX_LENGTH = {
    "service_id": 40,
    "source": 100,
    "environment": 100,
    "changed_by": 255,
    "external_id": 255,
    "cluster": 90,
    "namespace": 90,
    "tag": 100,
    "q": 200,
}
_CHIP_LABELS = (
    ("q", "text"),
    ("service_id", "service"),
    ("change_type", "type"),
    ("environment", "environment"),
    ("source", "source"),
    ("risk_level", "risk"),
    ("outcome", "outcome"),
    ("changed_by", "actor"),
    ("cluster", "cluster"),
    ("namespace", "namespace"),
    ("external_id", "external id"),
)
_TEXT_FIELDS = ("service_id", "environment", "source", "changed_by", "cluster", "namespace", "q")
_MAX_TAGS = 10


class FilterError(ValueError):
    """One or more parameters are not valid; ``problems`` names each with what is wrong."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    service_id: str | None = None
    change_type: str | None = None
    environment: str | None = None
    source: str | None = None
    risk_level: str | None = None
    outcome: str | None = None
    changed_by: str | None = None
    cluster: str | None = None
    namespace: str | None = None
    tags: tuple[str, ...] = ()
    q: str | None = None
    external_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    window: str | None = None
    offset: int = 0
    limit: int = DEFAULT_PAGE_SIZE
    # The moment ``window`` is counted back from; fixed per request so every query agrees.
    now: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False)

    @property
    def since(self) -> datetime | None:
        if self.window is not None:
            return self.now - WINDOWS[self.window]
        return self.start

    @property
    def until(self) -> datetime | None:
        return None if self.window is not None else self.end

    @property
    def filtered(self) -> bool:
        return self.without_paging() != TimelineQuery(now=self.now)

    def without_paging(self) -> TimelineQuery:
        return replace(self, offset=0, limit=DEFAULT_PAGE_SIZE)

    def all_tags(self) -> tuple[str, ...]:
        extra = []
        if self.cluster:
            extra.append(f"cluster:{self.cluster}")
        if self.namespace:
            extra.append(f"namespace:{self.namespace}")
        return tuple(dict.fromkeys((*self.tags, *extra)))

    def change_filters(self) -> ChangeFilters:
        return ChangeFilters(
            service_id=self.service_id,
            change_type=self.change_type,
            source=self.source,
            environment=self.environment,
            start=self.since,
            end=self.until,
            risk_level=self.risk_level,
            outcome=self.outcome,
            changed_by=self.changed_by,
            tags=self.all_tags(),
            q=self.q,
            external_id=self.external_id,
        )

    def params(self, **changes: object) -> list[tuple[str, str]]:
        """The canonical URL parameters of this view, or of it with ``changes`` applied."""
        view = replace(self, **changes) if changes else self  # type: ignore[arg-type]
        out: list[tuple[str, str]] = []
        for name in (
            "service_id",
            "change_type",
            "environment",
            "source",
            "risk_level",
            "outcome",
            "changed_by",
            "cluster",
            "namespace",
        ):
            value = getattr(view, name)
            if value is not None:
                out.append((name, value))
        out += [("tag", tag) for tag in view.tags]
        if view.q is not None:
            out.append(("q", view.q))
        if view.external_id is not None:
            out.append(("external_id", view.external_id))
        if view.window is not None:
            out.append(("window", view.window))
        else:
            if view.start is not None:
                out.append(("start_date", iso_utc(view.start)))
            if view.end is not None:
                out.append(("end_date", iso_utc(view.end)))
        if view.limit != DEFAULT_PAGE_SIZE:
            out.append(("limit", str(view.limit)))
        if view.offset:
            out.append(("offset", str(view.offset)))
        return out

    def chips(self, zone: tzinfo) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """The active filters as (name, value, the view's parameters without it)."""
        out: list[tuple[str, str, list[tuple[str, str]]]] = []
        for name, label in _CHIP_LABELS:
            value = getattr(self, name)
            if value is not None:
                out.append((label, str(value), self.params(**{name: None, "offset": 0})))
        for tag in self.tags:
            others = tuple(t for t in self.tags if t != tag)
            out.append(("tag", tag, self.params(tags=others, offset=0)))
        if self.window is not None:
            out.append(("last", self.window, self.params(window=None, offset=0)))
        for name, label in (("start", "from"), ("end", "until")):
            moment = getattr(self, name)
            if moment is not None and self.window is None:
                shown = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                out.append((label, shown, self.params(**{name: None, "offset": 0})))
        return out

    def permalink_params(self) -> list[tuple[str, str]]:
        """As ``params``, with a relative window pinned to absolute times (for sharing)."""
        if self.window is None:
            return self.params()
        return self.params(window=None, start=self.since, end=self.now)


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = [v.strip() for v in params.get(name, ()) if v.strip()]
    return values[-1] if values else None


def control_character_problems(params: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """Parameters holding NUL or other control characters, which no stored text contains
    (and PostgreSQL refuses to compare with)."""
    return [
        (name, "must not contain control characters")
        for name, values in params.items()
        if any(any(ord(c) < 32 or ord(c) == 127 for c in value) for value in values)
    ]


def instant(value: str, zone: tzinfo | None = None) -> datetime:
    """The instant a URL's time names; ValueError when there is none (or it is out of range)."""
    try:
        return _parsed(value, zone)
    except OverflowError:
        # Year 1 with a positive offset is before the earliest UTC instant Python knows.
        raise ValueError("out of the range of dates this can show") from None


def _parsed(value: str, zone: tzinfo | None) -> datetime:
    parsed = parse_instant(value)  # checks the value as the API does; no offset means UTC
    if zone is not None:
        wall = _wall_time(value)
        if wall is not None:
            # A datetime-local (or date) field from the form: wall time in the browser's zone.
            return wall.replace(tzinfo=zone).astimezone(UTC)
    return parsed


def _wall_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is None else None


def parse(
    params: Mapping[str, Sequence[str]], *, now: datetime | None = None
) -> tuple[TimelineQuery, bool]:
    """The view these URL parameters ask for, and whether its URL should be made canonical.

    Raises FilterError naming every parameter that is not valid.
    """
    problems = control_character_problems(params)
    if problems:
        raise FilterError(problems)
    values: dict[str, object] = {}
    for name in _TEXT_FIELDS:
        value = _single(params, name)
        if value is not None and len(value) > _MAX_LENGTH[name]:
            problems.append((name, f"at most {_MAX_LENGTH[name]} characters"))
        elif value is not None:
            values[name] = value
    external_id = _single(params, "external_id")
    if external_id is not None:
        if len(external_id) > _MAX_LENGTH["external_id"]:
            problems.append(("external_id", "at most 255 characters"))
        else:
            values["external_id"] = external_id
    change_type = _single(params, "change_type")
    if change_type is not None:
        if change_type in ChangeType.__members__.values():
            values["change_type"] = change_type
        else:
            known = ", ".join(t.value for t in ChangeType)
            problems.append(("change_type", f"{change_type!r} is not one of {known}"))
    risk_level = _single(params, "risk_level")
    if risk_level is not None:
        if risk_level in RiskLevel.__members__.values():
            values["risk_level"] = risk_level
        else:
            known = ", ".join(r.value for r in RiskLevel)
            problems.append(("risk_level", f"{risk_level!r} is not one of {known}"))
    outcome = _single(params, "outcome")
    if outcome is not None:
        if outcome in Outcome.__members__.values():
            values["outcome"] = outcome
        else:
            known = ", ".join(o.value for o in Outcome)
            problems.append(("outcome", f"{outcome!r} is not one of {known}"))
    tags = tuple(dict.fromkeys(t.strip() for t in params.get("tag", ()) if t.strip()))
    if len(tags) > _MAX_TAGS:
        problems.append(("tag", f"at most {_MAX_TAGS} tags"))
    elif any(len(t) > _MAX_LENGTH["tag"] for t in tags):
        problems.append(("tag", "each tag at most 100 characters"))
    else:
        values["tags"] = tags
    zone_name = _single(params, "tz")
    zone = zone_named(zone_name) if zone_name else None
    for name, key in (("start_date", "start"), ("end_date", "end")):
        raw = _single(params, name)
        if raw is None:
            continue
        try:
            values[key] = instant(raw, zone)
        except ValueError as exc:
            problems.append((name, str(exc)))
    window = _single(params, "window")
    if window is not None:
        if window in WINDOWS:
            values["window"] = window
        else:
            problems.append(("window", f"{window!r} is not one of {', '.join(WINDOWS)}"))
    limit = _single(params, "limit")
    if limit is not None:
        if limit.isdigit() and int(limit) in PAGE_SIZES:
            values["limit"] = int(limit)
        else:
            problems.append(("limit", "one of " + ", ".join(str(s) for s in PAGE_SIZES)))
    offset = _single(params, "offset")
    if offset is not None:
        if offset.isdigit() and int(offset) <= MAX_OFFSET:
            values["offset"] = int(offset)
        else:
            problems.append(("offset", f"a whole number from 0 to {MAX_OFFSET:,}"))
    if problems:
        raise FilterError(problems)
    view = TimelineQuery(**values, now=now or datetime.now(UTC))  # type: ignore[arg-type]
    if view.window is not None and (view.start is not None or view.end is not None):
        # A quick range replaces any explicit one: the form sends both.
        view = replace(view, start=None, end=None)
    return view, zone_name is not None or _has_blank(params)


def _has_blank(params: Mapping[str, Sequence[str]]) -> bool:
    """A form submission leaves empty fields in the URL; the canonical URL drops them."""
    return any(not v.strip() for values in params.values() for v in values)


def multi(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in items:
        out.setdefault(key, []).append(value)
    return out
