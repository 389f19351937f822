"""JSON Schema of the data model, exported into ``graph_schema/model.schema.json``.

Regenerate with ``python -m zettelmem.schema``; ``tests/test_schema.py`` fails when
the file is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from zettelmem.models import Change, Link, Note

__all__ = ["model_schema", "render"]

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "graph_schema" / "model.schema.json"


def model_schema() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "serialization") for m in (Note, Link, Change)],
                                 title="zettelmem data model")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **defs}


def render() -> str:
    return json.dumps(model_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_PATH
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
