"""Operating data: the specification's query (JSON/CSV pages, latest rows) and download (CSV,
Parquet or Arrow stream) endpoints, built as parse -> plan -> SQL -> execute -> respond.

Modules, in request order:
- parse.py     query parameters -> validated arguments (400 naming the parameter)
- plan.py      Dataset + arguments -> Selection / PagePlan / download slices (pure)
- sqlbuild.py  Selection -> psycopg.sql.Composed + parameters (pure, unit-tested)
- execute.py   the only code holding a pool connection: COPY ... TO STDOUT per page or slice
- respond.py   CSV lines -> JSON page or CSV page, keyset links; cursor.py signs the cursors
- download.py  the streaming download (time slices, an encoder per format, disconnects)
- columnar.py  the Parquet and Arrow encoders (typed record batches from the CSV slices)
- export.py    `ess export`: a download written to a file, by the same path
- routes.py    the controllers, built by a factory

Reusing it for another relation (the de-identified endpoints of api/deid/ do):

    from api.operating_data.dataset import Dataset, OutputColumn
    from api.operating_data.routes import operating_data_controllers

    def deid_dataset_for(request, site_id: int, component: str) -> Dataset:
        catalog = request.app.state.catalog
        site = catalog.require_site(site_id)  # 404 naming the site
        view = request.app.state.deid.require(site_id, component)  # ess_deid.site<N>_<component>
        names = [c.name for c in view.columns]  # published names: tokens for sensitive columns
        keys = tuple(k for k in catalog.key_columns[component] if k in names)
        ordered = sorted(view.columns, key=lambda c: c.name not in keys)  # series keys first
        return Dataset(
            relation=("ess_deid", view.view),
            component=component,
            site=site,
            columns=tuple(OutputColumn(c.name, c.name, c.value_type) for c in ordered),
            key_columns=keys,
        )

    DEID_ROUTES = operating_data_controllers(
        prefix="/api/ess/di/operating-sites",
        download_prefix="/api/ess/download/di/operating-sites",
        dataset_for=deid_dataset_for,
        tag="de-identified data",
    )

A Dataset says which relation to read (`relation`, with `site_column` and `time_source`
columns), which columns to publish in which order (`columns`: source column, published name,
value type float|integer|json) and which of them are the series keys (`key_columns`:
bank_id, rack_id). Everything else (fields/omit validated against the published names, windows,
tz, keyset cursors bound to the relation, counts, latest rows, CSV pages and downloads) comes
with it. The shared handler functions serve_page, serve_latest and serve_download in routes.py
can also be called from other handlers with any Dataset.
"""
