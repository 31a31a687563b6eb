"""What tests share besides fixtures (those live in conftest.py): the test session's secrets,
scratch sites, rows stored the way the embedded engine accepts them, app settings, tokens and
problem checks."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from api.auth.tokens import SCOPES, mint
from api.config import REPO_ROOT, AccessSettings, Settings
from api.engine import free_port
from api.refresh import refresh_aggregates

__all__ = [
    "REPO_ROOT",
    "SEOUL",
    "TEST_DEID_KEY",
    "TEST_JWT_SECRET",
    "assert_problem",
    "bearer",
    "create_scratch_site",
    "day_answer",
    "free_port",
    "insert_rows",
    "markdown_rows",
    "sensitive_names",
    "settings_for_tests",
    "store",
]

SEOUL = ZoneInfo("Asia/Seoul")  # the reference sites' zone, and the default of scratch sites
# secrets of the test session only
TEST_JWT_SECRET = "test-jwt-secret-" + "0123456789abcdef" * 2
TEST_DEID_KEY = "test-deid-key-" + "fedcba9876543210" * 2


def create_scratch_site(
    conn: psycopg.Connection,
    template_site: int = 2,
    rack_counts: tuple[int, ...] = (3, 2),
    timezone: str = "Asia/Seoul",
    first_id: int = 900,
    code: str = "test",
) -> int:
    """Register a fresh site with the columns of a reference site (ess.add_site_like), under
    the first free id from `first_id` on and the code `<code><id>` (download file names start
    with it); tests never depend on data they did not create."""
    site_id = conn.execute(
        "SELECT min(candidate) FROM generate_series(%s, 32767) AS candidate "
        "WHERE NOT EXISTS (SELECT FROM ess.site WHERE site_id = candidate)",
        (first_id,),
    ).fetchone()[0]
    conn.execute(
        "SELECT ess.add_site_like(%s::smallint, %s, %s, %s::smallint, %s::smallint[], %s)",
        (
            site_id,
            f"{code}{site_id}",
            f"Test site {site_id}",
            template_site,
            list(rack_counts),
            timezone,
        ),
    )
    return site_id


def insert_rows(conn: psycopg.Connection, table: str, rows: list[dict]) -> int:
    """Insert dict rows into ess.<table> with one INSERT ... SELECT FROM unnest(...) per batch
    (the embedded engine has no COPY FROM)."""
    if not rows:
        return 0
    types = dict(
        conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (f"ess.{table}",),
        ).fetchall()
    )
    names = sorted({name for row in rows for name in row})
    statement = sql.SQL("INSERT INTO {} ({}) SELECT * FROM unnest({})").format(
        sql.Identifier("ess", table),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(types[n])) for n in names),
    )
    for first in range(0, len(rows), 20000):
        batch = rows[first : first + 20000]
        conn.execute(statement, [[row.get(n) for row in batch] for n in names])
    return len(rows)


def store(conn: psycopg.Connection, table: str, rows: list[dict]) -> int:
    """Insert the rows, then refresh the continuous aggregates over their time span (the
    embedded engine runs no refresh policy)."""
    count = insert_rows(conn, table, rows)
    times: list[datetime] = [row["ts"] for row in rows]
    refresh_aggregates(conn, min(times), max(times) + timedelta(seconds=1))
    return count


def settings_for_tests(**access) -> Settings:
    """Settings of a test app: the test JWT secret, no rate limit unless asked for."""
    options = {"jwt_secret": TEST_JWT_SECRET, "rate_limit_burst": 0, **access}
    return Settings(environment="development", access=AccessSettings(**options))


def bearer(scopes=SCOPES, sites: list[int] | None = None, expires_s: float = 3600) -> dict:
    """Authorization header with a token signed by the test secret."""
    token = mint(TEST_JWT_SECRET, list(scopes), sites, timedelta(seconds=expires_s))
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response, status: int, parameter: str | None = None) -> dict:
    """An RFC 9457 problem with this status (naming this parameter, if given); its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if parameter is not None:
        assert body["parameter"] == parameter, body
    return body


def day_answer(client, url: str, day: str, **params: str) -> object:
    """The answer to date=day, checked to be the answer to start-time and end-time at the
    day's local midnights (the tests' sites are in Asia/Seoul)."""
    answer = client.get(url, params={"date": day, **params})
    assert answer.status_code == 200, answer.text
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    window = {"start-time": f"{day}T00:00:00", "end-time": f"{next_day}T00:00:00+09:00"}
    assert answer.json() == client.get(url, params={**window, **params}).json()
    return answer.json()


def sensitive_names(catalog, rules) -> set[str]:
    """Every column name of every site that the de-identification rules call sensitive."""
    return {
        c.name
        for site in catalog.sites.values()
        for component, columns in site.columns.items()
        for c in columns
        if rules.is_sensitive(component, c.name)
    }


def markdown_rows(path: Path, section: str) -> Iterator[tuple[str | None, dict[str, str]]]:
    """The rows of the tables under the `## <section>` heading of a Markdown file (the docs the
    tests hold the code to), as dicts keyed by the header cells, each with the `###` heading it
    is under (None before the first one)."""
    heading, header, inside = None, None, False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            inside, heading, header = line[3:].strip() == section, None, None
        elif not inside:
            continue
        elif line.startswith("### "):
            heading, header = line[4:].strip(), None
        elif line.startswith("|"):
            inner = line.strip()[1:-1]
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):  # not the separator row
                yield heading, dict(zip(header, cells, strict=True))
        else:
            header = None  # a table ends at the first line that is not a row


def wait_for(condition, seconds: float = 20.0, step: float = 0.1):
    """Poll `condition` until it is true (returns its value) or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(step)
    return result
