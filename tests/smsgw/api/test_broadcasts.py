from __future__ import annotations

from smsgw.app import Gateway
from smsgw.tokens import Role
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import BROADCASTS, create
from tests.smsgw.testbed import Client, bearer


async def test_probe(client: Client, gateway: Gateway, admin: dict[str, str]) -> None:
    await add_service(gateway)
    await add_service(gateway, keyword="SCHOOL", aliases=[], ministry="education")
    for path in ["²", "99999999999999999999999", "abc", "٣"]:
        r = await client.get(f"{BROADCASTS}/{path}", headers=admin)
        print(path, r.status, await r.text())
    for q in ["limit=²", "before=²", "before=99999999999999999999999", "limit=0"]:
        r = await client.get(f"{BROADCASTS}?{q}", headers=admin)
        print(q, r.status, await r.text())
    for send_at in ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00"]:
        r = await client.post(BROADCASTS, json={"service": "HEALTH", "texts": {"en": "x"}, "send_at": send_at}, headers=admin)
        print(send_at, r.status, await r.text())
    r = await client.post(BROADCASTS, json=["x"], headers=admin)
    print("list", r.status, await r.text())
    r = await client.post(BROADCASTS, json={"service": "HEALTH", "texts": {"en": "x"}, "valid_for_minutes": 10080, "send_at": "9999-12-31T00:00:00Z"}, headers=admin)
    print("far", r.status, await r.text())
    h = await create(client, admin, service="HEALTH", texts={"en": "x"}, send_at="2099-01-01T00:00:00Z")
    s1 = await create(client, admin, service="SCHOOL", texts={"en": "x"}, send_at="2099-01-01T00:00:00Z")
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    r = await client.get(f"{BROADCASTS}?limit=1", headers=officer)
    print("officer", r.status, await r.text())
