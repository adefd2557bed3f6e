"""Ordered SQL migrations of the archive (NNN_name.sql); a package so wheels ship the .sql files."""
