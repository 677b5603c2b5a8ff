"""Background jobs (APScheduler): the wiring lives here, the jobs in each domain's scheduled.py."""
