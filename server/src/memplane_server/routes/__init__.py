"""REST routers: memories (CRUD + search), transfer (export/import), admin, health."""
