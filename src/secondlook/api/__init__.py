"""HTTP API: REST under /api/v1, OpenAPI at /openapi.json, interactive docs at /docs."""
