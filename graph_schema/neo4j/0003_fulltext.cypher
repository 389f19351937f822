// 0003: full-text search (Lucene BM25, English stemming) over a note's text, its thread and a
// per-scope token that every query requires. Notes written before 0003 get their text_*
// properties from Neo4jGraphStore.migrate(), which backfills them after the migrations.
CREATE FULLTEXT INDEX zm_note_text IF NOT EXISTS FOR (n:Note)
ON EACH [n.content, n.context, n.text_keywords, n.text_tags, n.text_entities, n.text_thread, n.text_scope]
OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}};
