"""Email: template blocks, rendering, delivery, tracking links and consent."""
