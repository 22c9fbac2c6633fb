"""`check --prove DSN`: the migration findings checked on a real database (see `run.py`)."""
