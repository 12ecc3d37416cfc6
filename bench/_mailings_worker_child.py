"""The worker of bench/mailings.py: the task worker `manage.py db_worker` runs, in batch mode (it
returns once no task is ready), in a process of its own whose peak memory it prints at the end
(the kernel's high-water mark of this process, VmHWM)."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django  # noqa: E402 - Django is set up here, in the child

django.setup()

from tenancy import task_worker  # noqa: E402


def main():
    worker = task_worker.Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="bench-mailings",
        excluded_queue_names=[],
    )
    worker.run()
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    print(f"PEAK_MB={peak:.0f}", flush=True)


main()
