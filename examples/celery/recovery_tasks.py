"""A Celery app for recovery jobs: the package's recovery.celery, made
importable as `-A recovery_tasks` from this directory, with a place to add
settings of your own (routes, time limits, a result backend of your choice).

    celery -A recovery_tasks worker -P prefork -c 1
    python3 -m recovery.celery fanout job.json --tasks 4   # one run_job per worker process

The tasks, the fan-out and their settings are documented in recovery/celery.py.
"""
from recovery.celery import app, run_job, run_shard  # noqa: F401

# app.conf.update(task_time_limit=6 * 3600)   # settings of your own go here
