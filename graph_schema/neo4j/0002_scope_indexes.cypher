// 0002: lookups by scope (every query filters on it) and a note's history.
CREATE INDEX zm_note_scope IF NOT EXISTS FOR (n:Note) ON (n.scope);
CREATE INDEX zm_change_scope IF NOT EXISTS FOR (c:Change) ON (c.scope);
CREATE INDEX zm_change_note IF NOT EXISTS FOR (c:Change) ON (c.note_id);
