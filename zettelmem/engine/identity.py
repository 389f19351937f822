"""The identity of an embedded store, recorded in both halves, checked on open.

An embedded store is two folders that must belong together: ``graph.sqlite``
(the notes, the acknowledgement) and the Chroma folder (vectors, rebuildable
from the notes). On first open a random store id is written to the graph's meta
(``store_id``) and to a small file inside the Chroma folder
(:data:`IDENTITY_FILE`). Every later open compares them:

* graph without an id but vectors with one, or an empty graph beside a vector
  folder that holds vectors: ``graph.sqlite`` was deleted, truncated or replaced,
  and opening would start an empty store whose ``check --repair`` deletes every
  vector, so :class:`~zettelmem.errors.StoreCorrupt` is raised, naming the file;
* both with ids that differ: the folders come from two stores: ``StoreCorrupt``;
* graph with an id, vector folder without one: the vectors were lost or predate
  the id; the id is written again and ``check --repair`` re-embeds the notes.

Server-backed stores (Neo4j, a Chroma server) are shared by several homes and
are not checked here (see :mod:`zettelmem.engine.history` for how ``check``
keeps to this home's scopes).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from zettelmem.errors import StoreCorrupt

if TYPE_CHECKING:
    from zettelmem.config import Settings
    from zettelmem.stores.base import GraphStore
    from zettelmem.vectors.base import VectorIndex

__all__ = ["IDENTITY_FILE", "STORE_ID_KEY", "verify_identity"]

STORE_ID_KEY = "store_id"
IDENTITY_FILE = "zettelmem-store.json"


def _read(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StoreCorrupt(f"cannot read the store identity {path}: {exc}") from exc
    value = data.get(STORE_ID_KEY) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise StoreCorrupt(f"the store identity {path} names no store id")
    return value


def _write(path: Path, store_id: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({STORE_ID_KEY: store_id}), encoding="utf-8")
    os.replace(tmp, path)


def verify_identity(settings: Settings, graph: GraphStore, vectors: VectorIndex) -> None:
    """Refuse a graph and a vector folder that do not belong together (embedded stores only)."""
    from zettelmem.config import ChromaLocalConfig, NetworkXConfig

    if not (isinstance(settings.graph, NetworkXConfig) and isinstance(settings.vectors, ChromaLocalConfig)):
        return
    file = settings.chroma_path() / IDENTITY_FILE
    in_graph, in_vectors = graph.get_meta(STORE_ID_KEY), _read(file)
    if in_graph is None:
        notes, held = graph.count_all(None)["notes"], vectors.count()
        if in_vectors is not None or (held and not notes):
            raise StoreCorrupt(
                f"{settings.graph_path()} is missing, empty or replaced, but {settings.chroma_path()} holds "
                f"{held} vectors of store {in_vectors or '(recorded before store ids)'}; the notes cannot be "
                "rebuilt from vectors: restore graph.sqlite from a backup, or move the Chroma folder away "
                "to start a new store (nothing was changed)"
            )
        in_graph = uuid.uuid4().hex
        graph.put_meta(STORE_ID_KEY, in_graph)
    if in_vectors is None:
        _write(file, in_graph)
    elif in_vectors != in_graph:
        raise StoreCorrupt(
            f"{settings.graph_path()} belongs to store {in_graph} but {settings.chroma_path()} to store "
            f"{in_vectors}: the two folders come from different stores (nothing was changed)"
        )
