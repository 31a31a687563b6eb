"""Every analytics controller, for the application (api/app.py)."""

from __future__ import annotations

from api.analytics.aggregates.routes import AggregateController, AverageController
from api.analytics.completeness.routes import CompletenessController
from api.analytics.exsos.routes import ExSoSController
from api.analytics.protection.routes import LevelCountController, ProtectionMapController
from api.analytics.socp.routes import SoCPController
from api.analytics.sol.routes import SoLController, SoLDetailController
from api.analytics.sos.routes import SoSController

ANALYTICS_ROUTES = [
    AggregateController,
    AverageController,
    CompletenessController,
    SoSController,
    ExSoSController,
    SoCPController,
    SoLController,
    SoLDetailController,
    ProtectionMapController,
    LevelCountController,
]
