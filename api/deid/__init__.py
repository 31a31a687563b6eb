"""De-identified datasets: sensitive column names replaced by keyed HMAC tokens, in generated
views (schema ess_deid) with a data dictionary, served under /api/ess/di/."""

from api.deid.keys import configured_key, dev_key
from api.deid.views import apply_views

__all__ = ["apply_views", "configured_key", "dev_key"]
