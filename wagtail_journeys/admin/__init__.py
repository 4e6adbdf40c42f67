"""The Wagtail admin of wagtail-journeys: viewsets, views and reports."""
