"""Connections to the archive database: the URL (DATABASE_URL overrides config) and the schema."""

from __future__ import annotations

import os
import re

import psycopg
from psycopg import sql

from storesight.config import PipelineSettings
from storesight.startup import StartupError, redact_url

DEFAULT_SCHEMA = "storesight"
_SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def database_url(settings: PipelineSettings | None = None) -> str:
    """DATABASE_URL overrides the configured address (how production points at its database)."""
    configured = (settings or PipelineSettings()).database_url
    return os.environ.get("DATABASE_URL", configured)


def check_schema(schema: str) -> str:
    if not _SCHEMA_PATTERN.match(schema):
        raise ValueError(f"schema {schema!r}: use lower-case letters, digits and '_'")
    return schema


def connect(url: str, schema: str = DEFAULT_SCHEMA, autocommit: bool = True) -> psycopg.Connection:
    """A connection whose search_path is the archive schema (created if missing), then public.

    Autocommit by default: callers group statements with ``conn.transaction()`` blocks, which
    then really commit at their end (no implicit transaction left open).
    """
    check_schema(schema)
    conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
    conn.autocommit = autocommit
    return conn


def connect_at_start(url: str, schema: str = DEFAULT_SCHEMA) -> psycopg.Connection:
    """``connect`` for a service's start: a wrong password, CA or address is a ``StartupError``.

    Production URLs carry ``sslmode=verify-full&sslrootcert=/path/ca.pem``; the password comes from
    PGPASSWORD (libpq reads it) or DATABASE_URL, never from the config file.
    """
    try:
        return connect(url, schema)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        hint = ""
        if "password authentication failed" in reason or "no password supplied" in reason:
            hint = " (check PGPASSWORD or the password in DATABASE_URL)"
        elif "certificate" in reason or "SSL" in reason:
            hint = " (check sslmode and sslrootcert in the URL: the CA that signed the server's certificate)"
        raise StartupError(f"cannot connect to PostgreSQL at {redact_url(url)}: {reason}{hint}") from None
