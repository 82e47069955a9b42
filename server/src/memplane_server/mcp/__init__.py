"""memplane over the Model Context Protocol.

- :func:`memplane_server.mcp.tools.build_server`: the tools and resources;
- :mod:`memplane_server.mcp.stdio`: ``memplane mcp`` / ``memplane-mcp`` for desktop clients;
- :func:`memplane_server.mcp.http.mount_mcp`: streamable HTTP at ``/mcp`` in the server app.

See docs/mcp.md.
"""
