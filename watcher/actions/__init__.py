"""Actions on finish (`routes[].actions`): planned with a tick, run from the outbox.

`plan` (pure: which actions an alert asks for, and an exec child's environment), `execute`
(an `exec` action: a subprocess, no shell, with a timeout), `download` (a `download` action:
the run's files through presigned URLs, saved atomically), `runner` (the drain: due actions
run, each attempt recorded, retried and dead-lettered as deliveries are).
"""
