"""``GET /openapi.json``: an OpenAPI 3.1 document that matches the routes the app serves."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"unresolved {ref}"
        node = node[part]
    return node


def test_the_document_is_served_without_a_token_and_is_openapi_3(harness):
    answer = harness.client.get("/openapi.json")
    assert answer.status_code == 200
    doc = answer.json()
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    assert isinstance(doc["paths"], dict) and doc["paths"]


def test_every_route_is_described_with_its_methods_and_nothing_else(harness):
    doc = harness.client.get("/openapi.json").json()
    served = {}
    for route in harness.client.app.routes:
        assert isinstance(route, Route)
        served[route.path] = {m.lower() for m in route.methods or ()} - {"head"}
    described = {path: set(item) & HTTP_METHODS for path, item in doc["paths"].items()}
    assert described == served


def test_operations_are_complete_and_refs_resolve(harness):
    doc = harness.client.get("/openapi.json").json()
    operation_ids = []
    for path, item in doc["paths"].items():
        params_in_path = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            operation_ids.append(op["operationId"])
            assert op["responses"], f"{method} {path} has no responses"
            for status in op["responses"]:
                assert re.fullmatch(r"[1-5]\d\d", status), status
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == params_in_path, f"{method} {path}"
            for p in op.get("parameters", []):
                assert p["in"] in {"path", "query", "header", "cookie"}
                assert "schema" in p
                if p["in"] == "path":
                    assert p["required"] is True
    assert len(operation_ids) == len(set(operation_ids))
    for ref in refs(doc):
        resolve(doc, ref)


def test_reads_declare_the_bearer_scheme_and_webhooks_the_signature_headers(harness):
    doc = harness.client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for path in (
        "/api/support/check-spike",
        "/api/support/summary/{customerId}",
        "/api/support/banner/{customerId}",
        "/api/support/escalations",
    ):
        (op,) = doc["paths"][path].values()
        assert op["security"] == [{"bearerAuth": []}], path
    webhook = doc["paths"]["/api/webhooks/support/ticket"]["post"]
    headers = {p["name"] for p in webhook["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    summary = resolve(doc, "#/components/schemas/Summary")
    assert set(summary["required"]) == {
        "recentTickets",
        "baseline",
        "currentRate",
        "isSpike",
        "themes",
    }


def test_the_described_summary_matches_what_the_endpoint_returns(harness, kit):
    harness.post_ticket(kit.ticket("TKT-1"))
    harness.settle()
    doc = harness.client.get("/openapi.json").json()
    data = harness.client.get("/api/support/summary/acme", headers=harness.auth).json()
    described = set(resolve(doc, "#/components/schemas/Summary")["properties"])
    assert set(data) == described


def test_installed_sources_are_listed_for_the_vendor_route(harness):
    doc = harness.client.get("/openapi.json").json()
    (param,) = doc["paths"]["/api/webhooks/{source}"]["post"]["parameters"]
    assert param["schema"]["enum"] == sorted(harness.engine.sources)
    assert "fake" in param["schema"]["enum"]
