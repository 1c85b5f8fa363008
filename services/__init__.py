"""Application services shared by views and the CLI."""
