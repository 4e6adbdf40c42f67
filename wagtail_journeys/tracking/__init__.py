"""Recording what visitors do: page views, forms, the beacon, server-side events."""
