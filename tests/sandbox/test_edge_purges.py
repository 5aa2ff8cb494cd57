"""The sandbox's Fastly and Cloudflare purge APIs: their auth headers, limits and error bodies, faults as
for any vendor, and /_admin/purges to see what was purged."""

from __future__ import annotations

import httpx

from sandbox.handle import Sandbox
from sandbox.vendors.edge import TOKEN


def test_fastly_takes_a_soft_purge_by_surrogate_key_with_its_key(sandbox: Sandbox) -> None:
    response = httpx.post(f"{sandbox.url}/fastly/service/SVC/purge",
                          headers={"Fastly-Key": TOKEN, "Surrogate-Key": "product-1 sku-A", "Fastly-Soft-Purge": "1"})
    assert response.status_code == 200
    assert set(response.json()) == {"product-1", "sku-A"}
    with sandbox.admin() as admin:
        [purge] = admin.get("/purges").json()
    assert (purge["provider"], purge["target"], purge["keys"], purge["soft"]) == (
        "fastly", "SVC", ["product-1", "sku-A"], True)


def test_fastly_refuses_a_missing_or_wrong_key_and_no_keys(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/fastly/service/SVC/purge"
    assert httpx.post(url, headers={"Surrogate-Key": "a"}).status_code == 401
    wrong = httpx.post(url, headers={"Fastly-Key": "nope", "Surrogate-Key": "a"})
    assert wrong.status_code == 401
    assert wrong.json()["msg"] == "Provided credentials are missing or invalid"
    assert httpx.post(url, headers={"Fastly-Key": TOKEN}).status_code == 400
    too_many = " ".join(f"k{i}" for i in range(257))
    assert httpx.post(url, headers={"Fastly-Key": TOKEN, "Surrogate-Key": too_many}).status_code == 400
    with sandbox.admin() as admin:
        assert admin.get("/purges").json() == []


def test_cloudflare_takes_tags_with_a_bearer_token(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/cloudflare/zones/ZONE/purge_cache"
    ok = httpx.post(url, json={"tags": ["product-1"]}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert ok.json() == {"success": True, "errors": [], "messages": [], "result": {"id": "ZONE"}}
    denied = httpx.post(url, json={"tags": ["product-1"]}, headers={"Authorization": "Bearer nope"})
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["code"] == 10000
    many = httpx.post(url, json={"tags": [f"t{i}" for i in range(31)]}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert many.status_code == 400
    with sandbox.admin() as admin:
        assert [p["keys"] for p in admin.get("/purges").json()] == [["product-1"]]


def test_faults_are_injected_as_for_a_vendor_and_reset_forgets_the_purges(sandbox: Sandbox) -> None:
    sandbox.fault("cloudflare", status=503, times=1)
    url = f"{sandbox.url}/cloudflare/zones/ZONE/purge_cache"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    failed = httpx.post(url, json={"tags": ["a"]}, headers=headers)
    assert failed.status_code == 503
    assert failed.json()["success"] is False
    assert httpx.post(url, json={"tags": ["a"]}, headers=headers).status_code == 200
    assert sandbox.calls()["cloudflare"] == 2
    sandbox.reset()
    with sandbox.admin() as admin:
        assert admin.get("/purges").json() == []
