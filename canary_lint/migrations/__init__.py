"""The migration analyzer: Alembic and SQL migrations read into one list of schema operations,
replayed statically, and judged against what v1 (the serving version) still reads and writes."""
