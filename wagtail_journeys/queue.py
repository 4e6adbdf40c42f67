"""Queueing django-q2 tasks, with one broker a process instead of one a task."""

from __future__ import annotations

import os

_brokers: dict[tuple, object] = {}


def broker():
    """The django-q2 broker of the current configuration, made once in each process.

    Given no broker, ``async_task`` makes a new one for every task: with
    Redis, a new client and connection pool, then a new TCP connection, about
    1.3 ms a task (a third of the tracking endpoint's time, where an event a
    journey or segment reacts to queues a task). The key holds the process id,
    so a forked worker never shares its parent's connections, and the
    settings that choose the broker, so a changed configuration gets its own.
    """
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    key = (
        os.getpid(),
        Conf.BROKER_CLASS,
        Conf.ORM,
        repr(Conf.REDIS),
        Conf.DJANGO_REDIS,
        Conf.CLUSTER_NAME,
    )
    found = _brokers.get(key)
    if found is None:
        found = _brokers[key] = get_broker()
    return found


def enqueue(func: str, *args, group: str):
    """``async_task(func, *args, group=group)`` through the process's broker."""
    from django_q.tasks import async_task

    return async_task(func, *args, group=group, broker=broker())
