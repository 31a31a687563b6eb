"""The catalog lists exactly the columns of domain.md per site and component."""

from api.catalog.model import load_catalog

FLAGS16 = [
    f"rack_{hazard}_{level}"
    for level in ("warning", "fault")
    for hazard in (
        "temperature_imbalance",
        "under_temperature",
        "over_temperature",
        "voltage_imbalance",
        "under_voltage_protection",
        "over_voltage_protection",
        "over_current_charge",
        "over_current_discharge",
    )
]
RELAY_FUSE_COMM = [
    "rack_charge_relay_plus_fault_status",
    "rack_discharge_relay_minus_fault_status",
    "rack_fuse_minus_fault_status",
    "rack_fuse_plus_fault_status",
    "rack_tray_rack_communication_fault",
]
BANK_COMMON = {
    "bank_id",
    "bank_soc",
    "bank_soh",
    "bank_dc_volt",
    "bank_dc_current",
    "max_cell_voltage_of_bank",
    "min_cell_voltage_of_bank",
    "max_cell_temperature_of_bank",
    "min_cell_temperature_of_bank",
    "bank_power",
    *FLAGS16,
    *RELAY_FUSE_COMM,
    "battery_status_for_run",
    "battery_status_for_charge",
    "battery_status_for_fault",
    "battery_status_for_warning",
}
RACK_COMMON = {
    "bank_id",
    "rack_id",
    "rack_soc",
    "rack_soh",
    "rack_voltage",
    "rack_current",
    "rack_max_cell_voltage",
    "rack_max_cell_voltage_position",
    "rack_min_cell_voltage",
    "rack_min_cell_voltage_position",
    "rack_cell_voltage_gap",
    "rack_cell_voltage_average",
    "rack_max_cell_temperature",
    "rack_max_cell_temperature_position",
    "rack_min_cell_temperature",
    "rack_min_cell_temperature_position",
    "rack_cell_temperature_gap",
    "rack_discharge_relay_minus_status",
    "rack_charge_relay_plus_status",
    "rack_cell_balance_status",
    "rack_current_sensor_discharge",
    "rack_current_sensor_charge",
    "rack_status_for_run",
    "rack_status_for_fault",
    "rack_status_for_warning",
    *FLAGS16,
    *RELAY_FUSE_COMM,
}
BANK_23 = {
    "max_module_temperature",
    "min_module_temperature",
    "max_module_humidity",
    "min_module_humidity",
    "rack_tray_voltage_imbalance_warning",
    "master_rack_communication_fault",
    "battery_status_for_standby",
    "battery_status_for_discharge",
    "rack_to_master_bms_communication_status",
    "charging_stop_of_status",
    "discharging_stop_of_status",
    "emergency_status",
    "tvoc_status",
    "order_source",
    "emergency_source",
}
RACK_23 = {
    "rack_max_module_temperature",
    "rack_max_module_temperature_position",
    "rack_min_module_temperature",
    "rack_min_module_temperature_position",
    "rack_max_module_humidity",
    "rack_max_module_humidity_position",
    "rack_min_module_humidity",
    "rack_min_module_humidity_position",
    "rack_status_for_online",
    "rack_tray_volatge_imbalance_warning",
    "rack_module_fault",
}
PCS_1 = {
    "bank_id",
    "pcs_ac_l1_thd",
    "pcs_ac_l2_thd",
    "pcs_ac_l3_thd",
    "system_temperature_max",
    "dc_voltage_1",
    "dc_voltage_2",
    "dc_current",
    "dc_power",
    "ac_frequency",
    "ac_voltage",
    "ac_current_low",
    "ac_current_high",
    "ac_power",
    "ac_active_power",
    "ac_reactive_power",
    "ac_power_factor",
    "ac_l1_voltage",
    "ac_l1_current",
    "ac_l2_voltage",
    "ac_l2_current",
    "ac_l3_voltage",
    "ac_l3_current",
    "ac_accumulated_discharge_energy_low",
    "ac_accumulated_discharge_energy_high",
    "ac_accumulated_charge_energy_low",
    "ac_accumulated_charge_energy_high",
    *(f"pcs_status_{i}" for i in [*range(12), 14, 15]),
    *(f"pcs_protection_1_{i}" for i in range(16)),
    *(f"pcs_protection_2_{i}" for i in range(16)),
    *(f"pcs_protection_3_{i}" for i in range(11)),
    "pcs_control_0",
    "set_power",
    "set_soc_low_trip_level",
    "set_soc_high_trip_level",
    "set_vbat_low_trip_level",
    "set_vbat_high_trip_level",
}
PCS_2 = {
    "ai_vdc",
    "ai_idc",
    "ai_pdc",
    "ai_freq",
    "ai_vab_rms",
    "ai_vbc_rms",
    "ai_vca_rms",
    "ai_ias_rms",
    "ai_ibs_rms",
    "ai_ics_rms",
    "ai_sac",
    "ai_pac",
    "ai_qac",
    "ai_pf",
    "ai_c_kwh_ach",
    "ai_c_kwh_acl",
    "ai_d_kwh_ach",
    "ai_d_kwh_acl",
    "ai_c_kwh_dch",
    "ai_c_kwh_dcl",
    "ai_d_kwh_dch",
    "ai_d_kwh_dcl",
    "cmd_kw",
    "cmd_kvar",
    "cmd_vdc_ref",
    "st_run",
    "st_stop",
    "st_ready",
    "st_mode_l_r",
    "st_mode_cv",
    "st_fault",
    "st_charge",
    "st_discharge",
    "di_dk",
    "di_ak",
    "di_ck",
    "di_temp",
    "di_spd",
    "di_ds",
    "di_start",
    "di_es",
    "flt_ovar",
    "flt_uvar",
    "flt_ofr",
    "flt_ufr",
    "flt_ocar",
    "flt_ovdr",
    "flt_uvdr",
    "flt_ocdr",
    "flt_cfd",
    "flt_otr",
    "flt_spd",
    "flt_rvet",
}
PCS_3 = {
    "voltage",
    "current",
    "power",
    "ac_vu",
    "ac_vv",
    "ac_vw",
    "ac_iu",
    "ac_iv",
    "ac_iw",
    "ac_power",
    "ac_freq",
    "dc_v",
    "c_kwh",
    "power_setting",
    "max_voltage",
    "min_voltage",
    "ci_setting",
    "di_setting",
    "lqe_ref",
    "vdc_ref",
    "d_kwh",
    "pf",
    "state_of_pcs",
    "gate_err_a",
    "gate_err_b",
    "gate_err_c",
    "e_stop_fault",
    "overheat",
    "dc_fuse_fault",
    "init_fault",
    "ac_fuse_open",
    "imd_fault",
    "vbat_err",
    "oc_bat",
    "ov_vdc",
    "uv_vdc",
    "sft_unb_dc_link",
    "eeprom_write_error",
    "ov_source",
    "uv_source",
    "seq_source",
    "unb_source",
    "inter_source",
    "oc_la_fault",
    "oc_lb_fault",
    "oc_lc_fault",
    "offset_la",
    "offset_lb",
    "unb_current",
    "freq_low",
    "freq_high",
    "pms_e_stop",
    "overload",
    "communication_error",
}
ETC_1 = {
    "bank_id",
    "sensor1_temperature",
    "sensor1_humidity",
    "inv1_active_power",
    "inv1_cumluative_power_generation",
}
ETC_23 = {
    "sensor1_temperature",
    "sensor1_humidity",
    "sensor2_temperature",
    "sensor2_humidity",
    "active_power_total",
    "active_energy_total_high",
}

EXPECTED = {
    1: {
        "bank": BANK_COMMON
        | {f"rack_n{n:03d}_master_rack_communication_fault" for n in range(1, 9)}
        | {"master_rack_communication_fault"},
        "rack": RACK_COMMON | {"rack_cell_temperature_average"},
        "pcs": PCS_1,
        "etc": ETC_1,
    },
    2: {"bank": BANK_COMMON | BANK_23, "rack": RACK_COMMON | RACK_23, "pcs": PCS_2, "etc": ETC_23},
    3: {"bank": BANK_COMMON | BANK_23, "rack": RACK_COMMON | RACK_23, "pcs": PCS_3, "etc": ETC_23},
}


def test_catalog_lists_exactly_the_columns_of_each_site(conn):
    catalog = load_catalog(conn)
    for site_id, components in EXPECTED.items():
        site = catalog.site(site_id)
        for component, expected in components.items():
            names = site.column_names(component)
            assert len(names) == len(set(names))
            assert set(names) == expected, (site_id, component)


def test_reference_sites_topology_and_timezone(conn):
    catalog = load_catalog(conn)
    assert {s: catalog.site(s).rack_counts for s in (1, 2, 3)} == {
        1: {1: 8},
        2: {1: 9, 2: 8},
        3: {1: 11},
    }
    assert {catalog.site(s).timezone for s in (1, 2, 3)} == {"Asia/Seoul"}
    assert catalog.site(2).topology["cells_in_series"] == 240


def test_json_and_integer_columns_have_the_right_types(conn):
    catalog = load_catalog(conn)
    rack = {c.name: c for c in catalog.site(2).columns["rack"]}
    assert rack["rack_module_fault"].value_type == "json"
    assert rack["rack_module_fault"].sql_type == "jsonb"
    assert rack["rack_over_voltage_protection_fault"].value_type == "integer"
    assert rack["rack_soc"].sql_type == "double precision"


def test_series_keys_include_time(conn):
    keys = dict(
        conn.execute(
            """
            SELECT conrelid::regclass::text, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE contype = 'u' AND connamespace = 'ess'::regnamespace
              AND conrelid::regclass::text IN ('ess.bank', 'ess.rack', 'ess.pcs', 'ess.etc')
            """
        ).fetchall()
    )
    assert keys == {
        "ess.rack": "UNIQUE (site_id, bank_id, ts, rack_id)",
        "ess.bank": "UNIQUE (site_id, bank_id, ts)",
        "ess.pcs": "UNIQUE (site_id, ts)",
        "ess.etc": "UNIQUE (site_id, ts)",
    }
    hypertables = {
        r[0]
        for r in conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = 'ess'"
        )
    }
    assert {"bank", "rack", "pcs", "etc"} <= hypertables


def test_a_new_site_is_data(scratch_site, conn):
    site_id = scratch_site(template_site=3, rack_counts=(4,))
    site = load_catalog(conn).site(site_id)
    assert site.rack_counts == {1: 4}
    assert set(site.column_names("pcs")) == PCS_3
