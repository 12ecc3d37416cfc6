"""`make bench` runs every benchmark in bench/; `make bench NAME=provisioning` runs one.

Each benchmark is a module with main() that prints a table and ends with one JSON line. Each runs
in a process of its own: a benchmark points Django at a fresh database of its own, and Django is
set up once per process.
"""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path


def main(argv):
    names = [arg for arg in argv if not arg.startswith("--")] or sorted(
        module.name for module in pkgutil.iter_modules([str(Path(__file__).parent)]) if not module.name.startswith("_")
    )
    if len(names) > 1:
        failed = [name for name in names if subprocess.run([sys.executable, "-m", "bench", name]).returncode]
        if failed:
            sys.exit(f"benchmarks that failed: {', '.join(failed)}")
        return
    module = importlib.import_module(f"bench.{names[0]}")
    if hasattr(module, "main"):  # not the helpers a benchmark starts (echo_consumer)
        print(f"== bench/{names[0]}.py", flush=True)
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
