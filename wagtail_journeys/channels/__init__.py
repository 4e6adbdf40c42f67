"""Channels beyond email: SMS and web push, each through a backend chosen in the settings.

Like Django's email backends and Anymail's providers: ``WAGTAIL_JOURNEYS["SMS_BACKEND"]``
and ``["PUSH_BACKEND"]`` name a class (``channels.base``) that sends one message.
"""
