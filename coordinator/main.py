"""The coordinator's ASGI entry point: `uvicorn coordinator.main:app` (clients are built by the lifespan)."""

from coordinator.app import create_app

app = create_app()
