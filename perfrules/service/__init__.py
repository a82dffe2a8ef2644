"""``perfrules serve``: pre-approval screening as an HTTP decision service (FastAPI on uvicorn worker processes)."""
