"""The reference knowledge-graph memory server's nine tools, same names and argument shapes.

``create_entities``, ``create_relations``, ``add_observations``, ``delete_entities``,
``delete_observations``, ``delete_relations``, ``read_graph``, ``search_nodes`` and
``open_nodes`` take and return what ``@modelcontextprotocol/server-memory`` does
(with the same annotations), so a prompt written for it works unchanged; behind
them entities, observations and relations are notes and links
(:mod:`zettelmem.mcp._kg`).
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from zettelmem.mcp._backend import READ, Backend, guarded, write
from zettelmem.mcp.models import (
    Ack,
    AddObservationsResult,
    CreateEntitiesResult,
    CreateRelationsResult,
    Entity,
    KGRelation,
    KnowledgeGraph,
    ObservationDeletion,
    ObservationInput,
)

__all__ = ["REFERENCE_TOOLS", "register_reference_tools"]

REFERENCE_TOOLS = ("create_entities", "create_relations", "add_observations", "delete_entities",
                   "delete_observations", "delete_relations", "read_graph", "search_nodes", "open_nodes")


def register_reference_tools(server: MCPServer, backend: Backend) -> None:
    """Add the nine reference tools to ``server``."""
    add = server.add_tool

    @guarded
    async def create_entities(entities: list[Entity]) -> CreateEntitiesResult:
        return CreateEntitiesResult(entities=await backend.kg.create_entities(backend.scope(), entities))

    add(create_entities, title="Create Entities", description="Create multiple new entities in the knowledge graph",
        annotations=write(destructive=False, idempotent=False), structured_output=True)

    @guarded
    async def create_relations(relations: list[KGRelation]) -> CreateRelationsResult:
        return CreateRelationsResult(relations=await backend.kg.create_relations(backend.scope(), relations))

    add(create_relations, title="Create Relations",
        description="Create multiple new relations between entities in the knowledge graph. "
                    "Relations should be in active voice",
        annotations=write(destructive=False, idempotent=False), structured_output=True)

    @guarded
    async def add_observations(observations: list[ObservationInput]) -> AddObservationsResult:
        pairs = [(o.entityName, o.contents) for o in observations]
        return AddObservationsResult(results=await backend.kg.add_observations(backend.scope(), pairs))

    add(add_observations, title="Add Observations",
        description="Add new observations to existing entities in the knowledge graph",
        annotations=write(destructive=False, idempotent=False), structured_output=True)

    @guarded
    async def delete_entities(
        entityNames: Annotated[list[str], Field(description="An array of entity names to delete")],
    ) -> Ack:
        n = await backend.kg.delete_entities(backend.scope(), entityNames)
        return Ack(success=True, message=f"Entities deleted successfully ({n} notes removed)")

    add(delete_entities, title="Delete Entities",
        description="Delete multiple entities and their associated relations from the knowledge graph",
        annotations=write(destructive=True, idempotent=True), structured_output=True)

    @guarded
    async def delete_observations(deletions: list[ObservationDeletion]) -> Ack:
        n = await backend.kg.delete_observations(backend.scope(), deletions)
        return Ack(success=True, message=f"Observations deleted successfully ({n} notes removed)")

    add(delete_observations, title="Delete Observations",
        description="Delete specific observations from entities in the knowledge graph",
        annotations=write(destructive=True, idempotent=True), structured_output=True)

    @guarded
    async def delete_relations(
        relations: Annotated[list[KGRelation], Field(description="An array of relations to delete")],
    ) -> Ack:
        n = await backend.kg.delete_relations(backend.scope(), relations)
        return Ack(success=True, message=f"Relations deleted successfully ({n} notes removed)")

    add(delete_relations, title="Delete Relations", description="Delete multiple relations from the knowledge graph",
        annotations=write(destructive=True, idempotent=True), structured_output=True)

    @guarded
    async def read_graph() -> KnowledgeGraph:
        return await backend.kg.read_graph(backend.scope())

    add(read_graph, title="Read Graph", description="Read the entire knowledge graph", annotations=READ,
        structured_output=True)

    @guarded
    async def search_nodes(
        query: Annotated[str, Field(
            description="The search query to match against entity names, types, and observation content")],
    ) -> KnowledgeGraph:
        return await backend.kg.search_nodes(backend.scope(), query)

    add(search_nodes, title="Search Nodes", description="Search for nodes in the knowledge graph based on a query",
        annotations=READ, structured_output=True)

    @guarded
    async def open_nodes(
        names: Annotated[list[str], Field(description="An array of entity names to retrieve")],
    ) -> KnowledgeGraph:
        return await backend.kg.open_nodes(backend.scope(), names)

    add(open_nodes, title="Open Nodes", description="Open specific nodes in the knowledge graph by their names",
        annotations=READ, structured_output=True)
