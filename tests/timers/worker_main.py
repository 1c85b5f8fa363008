"""A worker process for the restart tests: `python -m tests.timers.worker_main '<config json>'`.

The same worker as `flask --app app worker` (cli.worker.run_worker), with the tests' handlers
imported first.
"""

from __future__ import annotations

import json
import sys

import tests.timers.handlers  # noqa: F401  (registers the test kind)
from app import create_app
from cli.worker import run_worker

if __name__ == "__main__":
    app = create_app(json.loads(sys.argv[1]))
    run_worker(app, 3600, int(app.config.get("TASKS_WORKERS", 2)))
