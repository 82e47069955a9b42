"""memplane-server: the memplane Memory API over HTTP, with key-bound tenancy.

Importing this package is cheap; the app lives in :mod:`memplane_server.app`.
"""

__version__ = "0.1.0"
