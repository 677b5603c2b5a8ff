"""Map pages over HTTP: who may open which map, and what a bureau or an officer gets to see."""

from __future__ import annotations

from checkonce.maps.assets import outside_references
from tests.maps import htmlmap

MAPS = "/api/v1/maps"


ALLOWED = {
    "/coverage?period=2027Q1": {"admin", "coordinator", "bureau"},
    "/fees": {"admin", "coordinator", "bureau"},
    "/alerts": {"admin", "coordinator"},
    "/route?visit=MV1": {"admin", "coordinator", "bureau"},
}


def test_who_may_open_each_map(client, headers, world):
    for path, allowed in ALLOWED.items():
        for caller in ("admin", "coordinator", "bureau", "inspector", "enterprise", "anonymous"):
            response = client.get(MAPS + path, headers=headers[caller])
            if caller in allowed:
                assert response.status_code == 200, (caller, path, response.text[:300])
                assert response.headers["content-type"].startswith("text/html")
                assert outside_references(response.text) == []
            elif caller == "anonymous":
                assert response.status_code == 401
            else:
                assert response.status_code == 403, (caller, path, response.text[:300])


def test_bureau_sees_only_its_department(client, headers, world):
    # The bureau user is 市场监管 (SAMR): only the SAMR layer, whatever it asks for.
    html = client.get(f"{MAPS}/coverage?period=2027Q1", headers=headers["bureau"]).text
    assert htmlmap.layer_counts(html) == {"市场监管（4 次）": 4}
    full = client.get(f"{MAPS}/coverage?period=2027Q1", headers=headers["coordinator"]).text
    assert htmlmap.layer_counts(full) == {"市场监管（4 次）": 4, "消防（2 次）": 2}
    other = client.get(f"{MAPS}/coverage?department=FIRE", headers=headers["bureau"])
    assert other.status_code == 403 and other.json()["error"]["message"]
    filtered = client.get(
        f"{MAPS}/coverage?period=2027Q1&department=FIRE&risk=B", headers=headers["coordinator"]
    )
    assert htmlmap.layer_counts(filtered.text) == {"消防（2 次）": 2}


def test_inspector_sees_only_own_routes(client, headers, users, world, db_session):
    from checkonce.registry.models import Inspector
    from checkonce.visits.models import VisitInspector

    me = db_session.get(Inspector, users["inspector"].inspector_id)
    db_session.add(VisitInspector(visit_id=world.visits["V1"].id, inspector_id=me.id, position=2))
    db_session.flush()
    own = client.get(f"{MAPS}/route?day=2027-01-05", headers=headers["inspector"])
    assert own.status_code == 200
    assert htmlmap.layer_counts(own.text) == {}  # routes are lines and numbered stops
    assert f"{me.name}（1 站" in next(iter(htmlmap.overlays(own.text)))
    team = client.get(f"{MAPS}/route?visit=MV1", headers=headers["inspector"])
    assert team.status_code == 200 and len(htmlmap.overlays(team.text)) == 3
    someone = world.people["samr1"].code
    other = client.get(
        f"{MAPS}/route?day=2027-01-05&inspector={someone}", headers=headers["inspector"]
    )
    assert other.status_code == 403
    assert client.get(f"{MAPS}/route?visit=MV4", headers=headers["inspector"]).status_code == 403


def test_bad_input_is_a_clear_4xx(client, headers, world):
    for path in (
        "/coverage?period=2027Q5",
        "/coverage?risk=E",
        "/coverage?department=NOPE",
        "/route",
        "/route?visit=NOVISIT",
        "/route?inspector=X1&visit=MV1",
        "/fees?period=1999",
    ):
        response = client.get(MAPS + path, headers=headers["coordinator"])
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.json()["error"]["message"], path


def test_assets_follow_a_proxy_prefix(app, headers, world):
    from fastapi.testclient import TestClient

    with TestClient(app, root_path="/checkonce") as behind_proxy:
        html = behind_proxy.get(f"{MAPS}/route?visit=MV1", headers=headers["coordinator"]).text
    assert '<script src="/checkonce/static/vendor/leaflet/leaflet.js" nonce="' in html
