"""Units of the published columns, where the vendors' names make them certain.

Only measured quantities (float columns) get a unit; flags, statuses, positions and the
vendors' split energy registers (`..._low`/`..._high`, `..._kwh_ach`/`..._acl`) get none,
because their scale is not documented.
"""

from __future__ import annotations

import re

# first match wins; patterns are matched against the whole lower-case column name
_RULES: tuple[tuple[str, str | None], ...] = (
    (r".*_position|.*_(low|high)|.*_kwh_[ad]c[hl]|.*status.*|.*protection.*|pcs_control.*", None),
    (r".*_soc|.*_soh|set_soc_.*", "%"),
    (r".*_thd", "%"),
    (r".*humidity.*", "%RH"),
    (r".*temperature.*", "°C"),
    (r".*power_factor|ai_pf|pf", None),
    (r".*reactive_power|ai_qac|cmd_kvar", "kvar"),
    (r"ai_sac", "kVA"),
    (r".*cumluative_power_generation|c_kwh|d_kwh", "kWh"),
    (r".*power.*|ai_p[ad]c|cmd_kw", "kW"),
    (r".*freq.*", "Hz"),
    (r".*volt.*|.*_v|ai_vdc|ai_v[a-c]{2}_rms|ac_v[uvw]|.*vdc_ref|set_vbat_.*", "V"),
    (r".*current.*|ai_idc|ai_i[a-c]s_rms|ac_i[uvw]", "A"),
)
_COMPILED = tuple((re.compile(pattern), unit) for pattern, unit in _RULES)


def unit_of(column: str, value_type: str) -> str | None:
    if value_type != "float":
        return None
    for pattern, unit in _COMPILED:
        if pattern.fullmatch(column):
            return unit
    return None
