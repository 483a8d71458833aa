"""The staff app: pages and a JSON API for area social workers, served by Sanic (port 8001)."""
