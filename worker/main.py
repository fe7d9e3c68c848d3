"""The worker's ASGI entry point: ``uvicorn worker.main:app``.

Nothing is built at import: the app's lifespan reads the settings, loads the model bundle (a missing
or mismatched one stops startup) and opens the warehouse.
"""

from worker.app import create_app

app = create_app()
