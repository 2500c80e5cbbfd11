"""evaluate.py tasks, one per module."""
