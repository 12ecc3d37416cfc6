"""The supporter base's work in the worker."""

from people import imports
from tenancy.tasks import tenant_task


@tenant_task
def import_run(import_id, language, position=None):
    """Run an import of people (people.imports.run) for about TASK_SECONDS, in the importer's
    language, and queue where it goes on from: each batch is committed with its progress, for the
    importer to watch, and no task holds the worker for long."""
    position = imports.run(import_id, language, position, seconds=imports.TASK_SECONDS)
    if position is not None:
        import_run.enqueue(import_id, language, position)
