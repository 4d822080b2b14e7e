"""The scoring server: `cairn models serve` answers MLflow's scoring protocol for one model.

    app.py       ScoringApp: the ASGI application built around a loaded model (anything
                 with `predict(data, params=None)`; `metadata` optional)
    inputs.py    request bodies (JSON formats, CSV, Parquet) → model input, or a precise 400
    outputs.py   predictions → `{"predictions": ...}` (strict JSON, NumPy and pandas values)
    fastpath.py  scikit-learn forests fed plain numbers, scored without pandas or joblib
    metrics.py   Prometheus metrics; logs.py JSON request logs; capture.py sampled capture
    runner.py    load a model URI, then run the app on uvicorn (workers, TCP_NODELAY)

Importing this package imports none of pandas, NumPy or the model's libraries: they load
with the model. See docs/serving.md.
"""
