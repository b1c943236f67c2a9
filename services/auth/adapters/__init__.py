"""Auth backends: SQLAlchemy tables and repository (SQLite and PostgreSQL), the argon2 password hasher."""
