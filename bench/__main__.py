"""`make bench` runs every benchmark in bench/; `make bench NAME=provisioning` runs one.

Each benchmark is a module with main() that prints a table and ends with one JSON line.
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv):
    names = argv or sorted(
        module.name for module in pkgutil.iter_modules([str(Path(__file__).parent)]) if not module.name.startswith("_")
    )
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if hasattr(module, "main"):  # not the helpers a benchmark starts (echo_consumer)
            print(f"== bench/{name}.py", flush=True)
            module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
