"""The staff dashboard: a login-protected web app over the session-history database.

``app.create_app`` builds the Starlette application; ``server.serve`` runs it under uvicorn with
bounded workers and timeouts. Everything a unit sends is untrusted text: templates autoescape,
charts escape their SVG text, reports escape reportlab markup.
"""
