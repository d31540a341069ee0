"""JSON Schema front end: schema documents in, grammar IR out."""

from __future__ import annotations

import json
from typing import Any

from ..errors import SchemaError


def load_schema(schema: Any) -> Any:
    """Accept a schema as a dict/bool, a JSON string, or a pydantic model class."""
    if isinstance(schema, (dict, bool)):
        return schema
    if isinstance(schema, (str, bytes)):
        try:
            return json.loads(schema)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema is not valid JSON: {exc}") from None
    model_json_schema = getattr(schema, "model_json_schema", None)
    if callable(model_json_schema):  # pydantic v2 model class
        return model_json_schema()
    raise SchemaError(f"expected a JSON Schema (dict, JSON text or pydantic model), got {type(schema).__name__}",
                      pointer="#")
