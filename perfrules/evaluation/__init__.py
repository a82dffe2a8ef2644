"""Evaluating compiled rules: the vectorised pandas evaluator and its facts, the per-record reference evaluator, the durable-rules screening backend, data findings and the check result."""
