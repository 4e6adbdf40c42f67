"""Journeys: triggers, steps and goals (blocks), and the machinery that runs them.

- ``triggers``, ``steps``, ``goals``: the StreamField blocks an editor builds with;
- ``plan``: a published revision's steps as a graph the interpreter walks;
- ``entry``: who may enter (entry rules, re-entry policy) and ``enroll``;
- ``interpreter``: runs an enrollment's steps until it waits or ends;
- ``dispatch``: reacts to each committed event (triggers, goals, wait-until);
- ``scheduler``: claims due enrollments (the tick) and runs the detectors;
- ``live_edits``: moves waiting contacts when a new revision is published;
- ``simulator``: a dry run on a simulated clock.
"""
