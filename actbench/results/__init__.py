"""The results store (SQLite, numbered migrations) and the raw export."""
