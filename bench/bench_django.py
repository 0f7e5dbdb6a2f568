"""Imported first by the benchmarks that use the database: puts the repository root on sys.path (a script in
bench/ has only bench/ there) and sets Django up on the bench database (`ddpui_bench`)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import django  # noqa: E402

from bench.processes import use_bench_database  # noqa: E402

use_bench_database()
django.setup()
