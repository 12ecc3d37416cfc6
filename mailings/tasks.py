"""Mailings' work in the worker: each task is one transaction (tenancy/task_worker.py)."""

from mailings import sending
from tenancy.tasks import tenant_task


@tenant_task
def mailing_start(mailing_id):
    """Freeze the audience of a mailing whose time has come and queue its first batch."""
    sending.start(mailing_id)


@tenant_task(takes_context=True)
def mailing_batch(context, mailing_id, batch):
    """Hand over one batch and queue the next. Delivered again after its worker died, it sends
    nothing: what that worker was handing over is marked unknown (mailings/sending.py)."""
    sending.send_batch(mailing_id, batch, retried=len(context.task_result.worker_ids) > 1)
