"""`ess serve` as a real process (what `make run` ends in) answers the sites endpoint."""

import json
import os
import subprocess
import sys
import time
import urllib.request

from api.engine import port_answers
from tests.helpers import free_port


def test_ess_serve_answers_the_sites_endpoint(migrated_url):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": migrated_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_answers("127.0.0.1", port):
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "ess serve did not listen within 60 s"
            time.sleep(0.3)
        # one request, waited for: the list reads every test site's stored range from the one
        # engine session, and a retry loop of short timeouts would only queue more of them
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/ess/operating-sites/", timeout=180
        ) as response:
            sites = json.load(response)
        assert [s["code"] for s in sites][:3] == ["sionyu", "panli2", "hwanggeum6"]
    finally:
        server.terminate()
        server.wait(timeout=30)
