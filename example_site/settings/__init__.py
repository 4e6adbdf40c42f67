"""Settings of the demo storefront: ``base`` holds everything, ``dev`` and ``test`` adjust it."""
