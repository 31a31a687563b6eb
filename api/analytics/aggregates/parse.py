"""Parse step of the aggregates: the component, series, metrics, window, width and fill of a
request, validated against the catalog (no database access)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from api.catalog.model import COMPONENTS, Site
from api.errors import bad_parameter
from api.params import WINDOW, parse_choice, parse_duration, parse_int, window_of

AGGREGATE_FUNCTIONS = ("avg", "min", "max", "sum", "count", "first", "last")
FILL_MODES = ("none", "null", "locf", "linear")
BUCKET_PARAMETERS = (*WINDOW, "time-bucket-width", "fill")
AGGREGATE_PARAMETERS = ("component", "metrics", "bank", "rack", *BUCKET_PARAMETERS)
DEFAULT_WIDTH = "1 hour"
MAX_METRICS = 32
SERIES_KEYS = {"rack": ("bank_id", "rack_id"), "bank": ("bank_id",)}


@dataclass(frozen=True)
class Metric:
    function: str
    column: str

    @property
    def key(self) -> str:
        """The answer's field name, e.g. avg_rack_soc (the specification's naming)."""
        return f"{self.function}_{self.column}"


@dataclass(frozen=True)
class AggregateRequest:
    site: Site
    component: str
    bank: int | None
    rack: int | None
    metrics: tuple[Metric, ...]
    width: timedelta
    start: datetime
    end: datetime
    fill: str = "none"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    @property
    def series_count(self) -> int:
        return self.site.series_count(SERIES_KEYS.get(self.component, ()), self.bank, self.rack)

    @property
    def series_keys(self) -> tuple[str, ...]:
        """Key columns that vary in the answer (those not fixed by bank= / rack=)."""
        fixed = {"bank_id": self.bank, "rack_id": self.rack}
        return tuple(k for k in SERIES_KEYS.get(self.component, ()) if fixed[k] is None)


def parse_metrics(value: str | None, site: Site, component: str) -> tuple[Metric, ...]:
    """`avg:rack_soc,max:rack_max_cell_voltage`: functions and the site's numeric columns."""
    if value is None or not value.strip():
        raise bad_parameter("metrics", "give at least one function:column, e.g. avg:rack_soc")
    numeric = tuple(c.name for c in site.columns.get(component, ()) if c.value_type != "json")
    metrics: list[Metric] = []
    for item in (part.strip() for part in value.split(",")):
        function, sep, column = (s.strip().lower() for s in item.partition(":"))
        if not sep or not function or not column:
            raise bad_parameter(
                "metrics", f"{item!r} is not function:column (e.g. avg:{numeric[0]})"
            )
        if function not in AGGREGATE_FUNCTIONS:
            raise bad_parameter(
                "metrics",
                f"unknown function {function!r}; functions: {', '.join(AGGREGATE_FUNCTIONS)}",
            )
        if column not in numeric:
            raise bad_parameter(
                "metrics",
                f"operating site {site.site_id} reports no numeric {component} column "
                f"{column!r}; columns: {', '.join(numeric)}",
            )
        metrics.append(Metric(function, column))
    unique = tuple(dict.fromkeys(metrics))
    if len(unique) > MAX_METRICS:
        raise bad_parameter("metrics", f"at most {MAX_METRICS} metrics per request")
    return unique


def _check_series(site: Site, component: str, bank: int | None, rack: int | None) -> None:
    if component not in COMPONENTS:
        raise bad_parameter("component", f"{component!r} is not one of {', '.join(COMPONENTS)}")
    if not site.columns.get(component):
        raise bad_parameter(
            "component", f"operating site {site.site_id} reports no {component} data"
        )
    if bank is not None:
        if component in ("pcs", "etc"):
            raise bad_parameter("bank", f"{component} rows are per site, not per bank")
        site.require_bank(bank)
    if rack is not None:
        if component != "rack":
            raise bad_parameter("rack", "rack applies to component=rack only")
        if bank is None:
            raise bad_parameter("bank", "give the bank of the rack")
        site.require_rack(bank, rack)


def aggregate_request(
    site: Site,
    component: str | None,
    bank: int | None,
    rack: int | None,
    metrics: str | None,
    values: dict[str, str],
) -> AggregateRequest:
    """The request of any aggregate URL: the series and metrics (from the URL or the query)
    and the BUCKET_PARAMETERS of the query."""
    if component is None:
        raise bad_parameter("component", f"give the component: {', '.join(COMPONENTS)}")
    _check_series(site, component, bank, rack)
    fill = parse_choice(values.get("fill"), "fill", FILL_MODES) or "none"
    window = window_of(values, ZoneInfo(site.timezone), require_bounds=True)
    assert window.start is not None and window.end is not None
    width = parse_duration(values.get("time-bucket-width") or DEFAULT_WIDTH, "time-bucket-width")
    if width % timedelta(seconds=1):
        raise bad_parameter("time-bucket-width", "the width must be a whole number of seconds")
    return AggregateRequest(
        site=site,
        component=component,
        bank=bank,
        rack=rack,
        metrics=parse_metrics(metrics, site, component),
        width=width,
        start=window.start,
        end=window.end,
        fill=fill,
    )


def parse_aggregate(site: Site, values: dict[str, str]) -> AggregateRequest:
    """GET .../aggregate/: everything from the query (AGGREGATE_PARAMETERS)."""
    bank = parse_int(values.get("bank"), "bank")
    rack = parse_int(values.get("rack"), "rack")
    return aggregate_request(
        site, values.get("component"), bank, rack, values.get("metrics"), values
    )
