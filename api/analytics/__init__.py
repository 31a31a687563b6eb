"""Analytics route families, each parse -> plan -> SQL -> respond like api/operating_data (the
recipe for a new family is at the top of api/params.py):

- aggregates/    time-bucketed aggregates of any component (GET .../aggregate/, avg-* URLs)
- sos/           SoS, State of Safety per rack and bucket (ess.rack_sos)
- exsos/         ExSoS, the fuzzy extended SoS per bank or rack (ess.exsos)
- socp/          SoCP, State of Cell Position (ess.rack_socp)
- sol/           SoL, State of Life with its forecast: the days (ess.sol_forecast), and with
                 the trend models on the detail URL (ess.sol_models)
- protection/    protection-map episodes and level counts (ess.protection_episodes, ...)
- completeness/  rows stored vs expected per local day (ess.completeness)

Shared: series.py (the bank/rack a safety URL names), buckets.py (the bucketed window of SoS
and ExSoS with its work bounds).
"""
