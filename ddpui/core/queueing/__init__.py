"""Work on the Django-Q2 cluster: queueing tasks, race-safe leases, the schedules this app needs."""
