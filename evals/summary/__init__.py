"""Case summary benchmark: python -m evals.summary (see __main__.py)."""
