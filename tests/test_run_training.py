"""`ess run` serves as soon as the data is there and trains the forecast models it lacks in the
background: requests answer during the training (baselines until a target's model is stored),
the models appear afterwards, SIGTERM in the middle stops cleanly with every stored model whole,
and the next `ess run` trains only the targets still missing."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from api.engine import EmbeddedEngine, port_answers
from api.forecasting.targets import TARGETS
from tests.cli_run import ESS
from tests.faults import copy_data, run_ess, user_env
from tests.helpers import bearer, free_port

REPO_ROOT = Path(__file__).parent.parent
SITE = 1  # 8 racks: the smallest reference site
DAYS = 4  # the fewest the backtest accepts
FIRST_DAY, LAST_DAY = "2023-04-10", "2023-04-13"
MODELS = f"/api/ess/stats/forecasting-models/operating-sites/{SITE}/"
FORECAST = f"/api/ess/stats/{TARGETS[0].path}/operating-sites/{SITE}/banks/1/racks/1/"
AFTERNOON = {"start-time": f"{LAST_DAY}T13:00:00", "end-time": f"{LAST_DAY}T13:30:00"}
TRAINED = "forecast: trained in"
STOPPED = "forecast: training stopped"
FAILED = "forecast: training failed"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Rack data of site 1 (DAYS days at 1-minute rows) and no model: what `ess run` trains."""
    directory = tmp_path_factory.mktemp("run-training-template")
    env = user_env(directory)
    run_ess(["migrate"], env)
    run_ess(
        [
            "demo",
            "--sites",
            str(SITE),
            "--start",
            FIRST_DAY,
            "--days",
            str(DAYS),
            "--interval",
            "60s",
        ],
        env,
    )
    return directory


@pytest.fixture
def data_dir(template, tmp_path) -> Path:
    return copy_data(template, tmp_path / "data")


@dataclass
class Run:
    """`ess run` in a subprocess, its output in a file (a pipe nobody reads would fill up with
    the access log and block the server)."""

    data_dir: Path
    port: int = field(default_factory=free_port)

    def start(self) -> Run:
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (open while the process runs)
        self.process = subprocess.Popen(
            [*ESS, "run", "--port", str(self.port)],
            env=user_env(self.data_dir),
            cwd=REPO_ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.began = time.monotonic()
        deadline = self.began + 180
        while not port_answers("127.0.0.1", self.port):
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"ess run did not serve in time: {self.output()}"
            time.sleep(0.2)
        return self

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def training(self, within_s: float = 300) -> bool:
        """True while the training runs; fails once it failed or the process ended."""
        output = self.output()
        assert FAILED not in output and self.process.poll() is None, output
        assert time.monotonic() - self.began < within_s, f"training not done: {output}"
        return TRAINED not in output

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=bearer(), timeout=120)

    def stop(self) -> str:
        """SIGTERM; its output once it exited with status 0."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
        output = self.output()
        assert self.process.returncode == 0, output
        assert "Traceback" not in output, output
        return output

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def running(data_dir: Path) -> Iterator[Run]:
    run = Run(data_dir).start()
    try:
        yield run
    finally:
        run.kill()


def stored_models(data_dir: Path) -> list[tuple]:
    """(target, version, every column filled) of each stored model."""
    engine = EmbeddedEngine(data_dir / "engine", port=free_port())
    engine.start()
    try:
        with psycopg.connect(engine.url, autocommit=True) as conn:
            return conn.execute(
                "SELECT forecast_target, model_version, num_nulls(train_start, train_end, "
                "chosen_model, features, hyperparameters, linear_weights, lightgbm_model, "
                "interval_halfwidth, metrics) = 0 FROM ess.forecast_model "
                "WHERE site_id = %s ORDER BY 1",
                (SITE,),
            ).fetchall()
    finally:
        engine.stop()


def test_ess_run_answers_while_it_trains_then_serves_the_models(data_dir):
    with running(data_dir) as run, run.client() as client:
        models_while_training, versions = [], set()
        while run.training():
            models = client.get(MODELS)
            assert models.status_code == 200, models.text
            models_while_training.append(len(models.json()))
            answer = client.get(FORECAST, params=AFTERNOON)
            assert answer.status_code == 200, answer.text
            rows = answer.json()
            assert rows and len({(r["model"], r["version"]) for r in rows}) == 1
            if rows[0]["version"] is None:  # the baselines, until the target's model is stored
                assert rows[0]["model"] == "persistence", rows[0]
                assert rows[0]["lower"] is None and rows[0]["upper"] is None, rows[0]
            versions.add(rows[0]["version"])
        # it answered before the training had stored every model
        assert models_while_training and models_while_training[0] < len(TARGETS)
        assert versions <= {None, "v1"}, versions
        trained = client.get(MODELS).json()
        assert sorted(m["target"] for m in trained) == sorted(t.name for t in TARGETS)
        assert client.get(FORECAST, params=AFTERNOON).json()[0]["version"] == "v1"
        output = run.stop()
    assert "being trained in the background" in output
    for target in TARGETS:
        assert f"forecast: site {SITE} {target.name} v1" in output


def test_sigterm_during_training_stops_cleanly_and_the_next_run_trains_only_the_rest(data_dir):
    with running(data_dir) as run:
        while f"forecast: site {SITE} " not in run.output():  # its first model is stored
            assert run.training()
            time.sleep(0.1)
        output = run.stop()
    assert STOPPED in output and TRAINED not in output, output
    stored = stored_models(data_dir)
    assert 0 < len(stored) < len(TARGETS), stored
    assert all(whole for _, _, whole in stored), stored
    with running(data_dir) as run:
        while run.training():
            time.sleep(0.5)
        output = run.stop()
    for target, _, _ in stored:  # trained by the first run, not again
        assert f"{target} v" not in output, output
    assert {(t, v) for t, v, _ in stored_models(data_dir)} == {(t.name, 1) for t in TARGETS}
    with running(data_dir) as run:
        output = run.stop()
    assert "being trained" not in output and "forecast: site" not in output, output
