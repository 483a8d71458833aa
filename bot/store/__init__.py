"""Nära's relational store: handovers, staff accounts, sessions and the access log.

SQLAlchemy 1.4 used in 2.0 style (future engine, `select()`); the schema is owned by Alembic
migrations (bot/store/migrations). SQLite by default, PostgreSQL by URL (NARA_DATABASE_URL).
"""
