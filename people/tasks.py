"""The supporter base's work in the worker."""

from people import imports
from tenancy.tasks import tenant_task


@tenant_task
def import_run(import_id, language, position=None):
    """Run a batch of an import of people (people.imports.run), in the importer's language, and
    queue the next batch with it: the worker commits each task whole, and the importer watches
    the progress batch by batch."""
    position = imports.run(import_id, language, position, batches=1)
    if position is not None:
        import_run.enqueue(import_id, language, position)
