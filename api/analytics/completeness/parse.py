"""Parse step of completeness: the local days (both included) and the expected cadence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from api.params import parse_day_range, parse_duration

COMPLETENESS_PARAMETERS = ("start-date", "end-date", "sample-interval")
MAX_DAYS = 366


@dataclass(frozen=True)
class CompletenessQuery:
    site_id: int
    first: date
    last: date
    sample_interval: timedelta


def parse_completeness(site_id: int, values: dict[str, str]) -> CompletenessQuery:
    first, last = parse_day_range(
        values.get("start-date"), values.get("end-date"), max_days=MAX_DAYS, end_required=False
    )
    interval = parse_duration(values.get("sample-interval") or "1s", "sample-interval")
    return CompletenessQuery(site_id, first, last, interval)
