"""The tracking server: MLflow's REST API over the same stores the client uses in-process.

`app.create_app(config)` builds the ASGI application; `runner.serve(config)` runs it on
uvicorn. Requests are described once, in `endpoints.py` (paths, methods, fields and types);
the same table drives request parsing (`messages.py`) and the OpenAPI document (`openapi.py`).
"""
