"""SQL step of the protection map: the statements and their rows, named as the answer."""

from __future__ import annotations

from datetime import datetime

import msgspec

from api.analytics.protection.parse import CountQuery, EpisodeQuery
from api.db import Statement, sql_text

EPISODES_SQL = sql_text(__file__, "episodes.sql")
LEVEL_COUNTS_SQL = sql_text(__file__, "level_counts.sql")


class EpisodeFacts(msgspec.Struct):
    """What an episode's row and its answer (respond.Episode) share."""

    start_time: datetime
    end_time: datetime | None  # null while ongoing at the window's end
    last_seen: datetime
    ongoing: bool
    operating_site: int
    bank_id: int
    rack_id: int  # 0: a flag of the bank's master BMS for all its racks
    hazard: str
    level_name: str
    peak_value: float | None
    unit: str | None
    readings: int
    source: str  # threshold | bms_flag
    source_column: str


class EpisodeRow(EpisodeFacts):
    """An episode as ess.protection_episodes gives it, with the names of its code and level
    and the number of episodes in the whole window."""

    error_code: int
    code_name_ko: str
    code_name_en: str
    level: int  # 1 warning, 2 fault
    level_name_ko: str
    description_en: str
    description_ko: str
    total: int


class LevelCount(msgspec.Struct):
    time: datetime
    operating_site: int
    level: int
    level_count: int  # readings (second and rack) whose highest level is this one
    episode_count: int  # episodes of this level that started in the bucket


def episodes_statement(query: EpisodeQuery) -> Statement:
    return EPISODES_SQL, {
        **query.window.params(),
        "level": query.level,
        "code": query.code,
        "message": query.message,
        "page_size": query.page_size,
        "page_offset": (query.page - 1) * query.page_size,
    }


def level_counts_statement(query: CountQuery) -> Statement:
    return LEVEL_COUNTS_SQL, {**query.window.params(), "bucket_width": query.bucket}
