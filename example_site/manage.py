#!/usr/bin/env python
"""Django's command-line utility for the demo storefront.

Run from anywhere: the repository root is put on ``sys.path`` so that both
``example_site`` and the ``wagtail_journeys`` checkout import without
installing anything.
"""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings.dev")

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
