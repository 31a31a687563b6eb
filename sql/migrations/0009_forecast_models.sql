-- Forecast models, one row per fitted version (docs/forecasting.md): `ess forecast train` adds a
-- row per site and target; the API and ess.forecast() serve the newest version of each, so every
-- API process serves the same one. Rows are never updated: older versions stay for comparison.
CREATE TABLE ess.forecast_model (
    model_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id smallint NOT NULL REFERENCES ess.site (site_id),
    forecast_target text NOT NULL,
    model_version integer NOT NULL,
    trained_at timestamptz NOT NULL DEFAULT now(),
    train_start timestamptz NOT NULL,
    train_end timestamptz NOT NULL,
    -- the model the API names in "model" (the best backtest MAE)
    chosen_model text NOT NULL,
    features text[] NOT NULL,
    hyperparameters jsonb NOT NULL,
    -- linear autoregression: weights of ess.forecast_features().linear_inputs (change to come)
    linear_weights double precision[] NOT NULL,
    -- LightGBM booster as text (Booster.model_to_string), NULL when not fitted
    lightgbm_model text,
    -- split-conformal half-widths of the prediction interval per model
    interval_halfwidth jsonb NOT NULL,
    -- backtest per model: mae, rmse, skill, coverage, n
    metrics jsonb NOT NULL,
    UNIQUE (site_id, forecast_target, model_version),
    CHECK (train_start < train_end)
);

COMMENT ON TABLE ess.forecast_model IS
'Fitted forecast models per site and target, one row per version; docs/forecasting.md';
