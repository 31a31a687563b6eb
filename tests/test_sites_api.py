def test_sites_endpoint_lists_the_catalog(client):
    response = client.get("/api/ess/operating-sites/")
    assert response.status_code == 200
    sites = {s["site_id"]: s for s in response.json()}
    assert {1, 2, 3} <= set(sites)
    panli = sites[2]
    assert panli["timezone"] == "Asia/Seoul"
    assert panli["banks"] == [{"bank_id": 1, "rack_count": 9}, {"bank_id": 2, "rack_count": 8}]
    pcs = next(c for c in panli["components"] if c["component"] == "pcs")
    assert pcs["key_columns"] == []
    assert "ai_vdc" in [c["name"] for c in pcs["columns"]]


def test_one_site_with_and_without_trailing_slash(client):
    for path in ("/api/ess/operating-sites/1/", "/api/ess/operating-sites/1"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.json()["code"] == "sionyu"


def test_unknown_site_is_a_problem_naming_it(client):
    response = client.get("/api/ess/operating-sites/77/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["parameter"] == "site" and "77" in body["detail"]


def test_non_numeric_site_is_a_4xx_problem(client):
    response = client.get("/api/ess/operating-sites/abc/")
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")


def test_root_points_to_the_sites_and_the_docs(client):
    links = client.get("/").json()
    assert client.get(links["sites"]).status_code == 200
    assert client.get(links["openapi"]).json()["info"]["title"] == "ESS data platform"
    assert client.get(links["ui"]).headers["content-type"].startswith("text/html")
