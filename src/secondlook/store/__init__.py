"""Persistence: SQLAlchemy models, data services and the migrations that ship with the package.

SQLite in a data directory is the embedded default; PostgreSQL is used when
SECONDLOOK_DATABASE_URL is set. Both are first-class and tested.
"""
