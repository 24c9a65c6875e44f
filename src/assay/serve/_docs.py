"""The API documentation page: the OpenAPI schema rendered as plain HTML (no Swagger UI, no
CDN: it works offline)."""

from __future__ import annotations

import json
from typing import Any

_CONSTRAINTS = {
    "minLength": "min length",
    "maxLength": "max length",
    "minimum": "≥",
    "maximum": "≤",
    "pattern": "pattern",
    "default": "default",
}


def _type(schema: dict[str, Any]) -> str:
    """A short type name for a JSON schema."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return str(kind)


def _constraints(schema: dict[str, Any]) -> str:
    found = dict(schema)
    for option in schema.get("anyOf", []):  # Optional[...] keeps its limits in the branch
        found = {**option, **found}
    return ", ".join(
        f"{label} {json.dumps(found[key])}" for key, label in _CONSTRAINTS.items() if key in found
    )


def _fields(schema: dict[str, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    """The properties of a request body model."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "where": "body",
            "type": _type(prop),
            "required": name in required,
            "constraints": _constraints(prop),
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def api_operations(openapi: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per (path, method): summary, parameters and body fields, response codes."""
    components = openapi.get("components", {}).get("schemas", {})
    out = []
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            params = [
                {
                    "name": p["name"],
                    "where": p.get("in", ""),
                    "type": _type(p.get("schema", {})),
                    "required": bool(p.get("required")),
                    "constraints": _constraints(p.get("schema", {})),
                    "description": p.get("description")
                    or p.get("schema", {}).get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body:
                params += _fields(body.get("schema", {}), components)
            out.append(
                {
                    "id": f"{method}-{path}".replace("/", "-").strip("-"),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "responses": sorted(op.get("responses", {})),
                    "write": method.lower() != "get",
                }
            )
    return out
