"""Imported first by the benchmarks that use the database (run as `python -m bench.<name>` from the repository
root): sets Django up on the bench database (`ddpui_bench`)."""


import django  # noqa: E402

from bench.processes import use_bench_database  # noqa: E402

use_bench_database()
django.setup()
