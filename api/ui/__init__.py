"""The web UI and the API documentation pages, served by the app itself (no CDN):
assets.py serves web/ui and the npm packages installed in web/node_modules, and configures the
OpenAPI viewer on them; signed_links.py lets a browser download raw data without a token in
the URL."""
