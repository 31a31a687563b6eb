"""SQL step of the protection map: the statements and their rows, named as the answer."""

from __future__ import annotations

from datetime import datetime

import msgspec

from api.analytics.protection.parse import CountQuery, EpisodeQuery
from api.db import Statement, sql_text

EPISODES_SQL = sql_text(__file__, "episodes.sql")
LEVEL_COUNTS_SQL = sql_text(__file__, "level_counts.sql")


class Episode(msgspec.Struct):
    start_time: datetime
    end_time: datetime | None  # null while ongoing at the window's end
    last_seen: datetime
    ongoing: bool
    operating_site: int
    bank_id: int
    rack_id: int
    error_code: int
    hazard: str
    level: int  # 1 warning, 2 fault
    level_name: str
    peak_value: float | None
    unit: str | None
    readings: int
    source: str  # threshold | bms_flag
    source_column: str
    description_en: str
    description_ko: str


class EpisodeRow(Episode):
    """An episode and the number of episodes in the whole window."""

    total: int

    def episode(self) -> Episode:
        return Episode(*(getattr(self, name) for name in Episode.__struct_fields__))


class LevelCount(msgspec.Struct):
    time: datetime
    operating_site: int
    level: int
    level_count: int  # episodes that started in the bucket
    row_count: int  # readings in the bucket in which a rule of this level held


def episodes_statement(query: EpisodeQuery) -> Statement:
    return EPISODES_SQL, {
        **query.window.params(),
        "level": query.level,
        "code": query.code,
        "page_size": query.page_size,
        "page_offset": (query.page - 1) * query.page_size,
    }


def level_counts_statement(query: CountQuery) -> Statement:
    return LEVEL_COUNTS_SQL, {**query.window.params(), "bucket_width": query.bucket}
