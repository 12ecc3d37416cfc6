"""Faults: real processes on loopback, hit by what happens in production.

PostgreSQL restarted under traffic, Redis stopped and started again under chat clients, the task
worker killed in mid-task, a Stripe webhook delivered while the database is down. Each test
checks what users and operators observe: the statuses of the requests in flight and after, the
frames a chat client receives, the mails sent, the rows written.

The tests run against a PostgreSQL cluster of their own (tests/faults/servers.py), a copy of the
test database made once for the package: the pytest session's server must keep running for
every other test. The test process itself talks to the copy while a test sets its data up and
checks the outcome (`private_db`), so nothing needs cleaning in the session's database.
"""
