-- Adding a site is data, not code. ess.add_site_like() registers a new site whose BMS and PCS
-- report the same columns as an existing one (same vendors), with its own banks and racks.
CREATE OR REPLACE FUNCTION ess.add_site_like(
    new_site_id smallint,
    new_code text,
    new_name text,
    template_site_id smallint,
    rack_counts smallint[],  -- rack_counts[i] = number of racks of bank i
    new_timezone text DEFAULT 'Asia/Seoul'
) RETURNS smallint
LANGUAGE sql
AS $$
    INSERT INTO ess.site (site_id, code, name, timezone, topology)
    SELECT new_site_id, new_code, new_name, new_timezone, topology
    FROM ess.site WHERE site_id = template_site_id;

    INSERT INTO ess.site_bank (site_id, bank_id, rack_count)
    SELECT new_site_id, bank.bank_id::smallint, bank.rack_count
    FROM unnest(rack_counts) WITH ORDINALITY AS bank (rack_count, bank_id);

    INSERT INTO ess.site_column (site_id, component, column_name, value_type, ordinal)
    SELECT new_site_id, component, column_name, value_type, ordinal
    FROM ess.site_column WHERE site_id = template_site_id;

    SELECT new_site_id;
$$;
