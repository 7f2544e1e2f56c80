"""Admin views of the state table: JSON, CSV and terminal tables from one row shape."""
