"""A small todo web app that keeps its todos in Cosmos DB for MongoDB (or any MongoDB).

Run it with ``python -m todo`` (development server) or with gunicorn (see ``todo.wsgi``).
"""
