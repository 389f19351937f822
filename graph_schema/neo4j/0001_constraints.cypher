// 0001: uniqueness constraints (each also creates the index behind it).
// Applied once by Neo4jGraphStore.setup() / `zettelmem db migrate`; never edit an
// applied migration -- add a new numbered file instead (checksums are recorded).
CREATE CONSTRAINT zm_note_id IF NOT EXISTS FOR (n:Note) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT zm_change_id IF NOT EXISTS FOR (c:Change) REQUIRE c.id IS UNIQUE;
CREATE CONSTRAINT zm_link_key IF NOT EXISTS FOR ()-[r:LINK]-() REQUIRE r.key IS UNIQUE;
CREATE CONSTRAINT zm_meta_key IF NOT EXISTS FOR (m:ZmMeta) REQUIRE m.key IS UNIQUE;
CREATE CONSTRAINT zm_counter_name IF NOT EXISTS FOR (c:ZmCounter) REQUIRE c.name IS UNIQUE;
CREATE CONSTRAINT zm_migration_id IF NOT EXISTS FOR (m:ZmMigration) REQUIRE m.id IS UNIQUE;
