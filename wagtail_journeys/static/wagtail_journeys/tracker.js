/*
 * wagtail-journeys tracker: time on page and custom events.
 *
 * Loaded by {% journeys_tracker %}. No dependencies, no cookies of its own
 * (the server's HttpOnly visitor cookie rides along with each beacon).
 *
 *   window.journeys.track("video_played", {video: "intro"});
 *
 * Time on page counts only while the page is visible, and is sent once when
 * the visitor leaves (visibilitychange to hidden, or pagehide), the moments
 * browsers still deliver a navigator.sendBeacon.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.journeys) {
    return;
  }
  var endpoint = script.getAttribute("data-journeys-endpoint");
  var pageIdAttr = script.getAttribute("data-journeys-page-id");
  var pageId = pageIdAttr ? parseInt(pageIdAttr, 10) : null;

  function send(name, properties) {
    var body = JSON.stringify({
      name: name,
      properties: properties || {},
      path: window.location.pathname,
      page_id: pageId
    });
    // text/plain keeps the beacon a "simple" request: no CORS preflight.
    var blob = new Blob([body], { type: "text/plain;charset=UTF-8" });
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, blob)) {
      return;
    }
    if (window.fetch) {
      window.fetch(endpoint, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        keepalive: true,
        headers: { "Content-Type": "text/plain;charset=UTF-8" }
      });
    }
  }

  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var visibleMs = 0;
  var sent = false;

  function pause() {
    if (visibleSince !== null) {
      visibleMs += Date.now() - visibleSince;
      visibleSince = null;
    }
  }

  function flush() {
    pause();
    // One page_time per page view: the first time the visitor leaves.
    if (!sent && visibleMs > 0) {
      sent = true;
      send("page_time", { duration_ms: Math.round(visibleMs) });
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      flush();
    } else if (visibleSince === null) {
      visibleSince = Date.now();
    }
  });
  window.addEventListener("pagehide", flush);
  window.addEventListener("pageshow", function (event) {
    // Back/forward cache restored the page: a new view starts counting.
    if (event.persisted) {
      sent = false;
      visibleMs = 0;
      visibleSince = Date.now();
    }
  });

  window.journeys = {
    /** Record a custom event (lower_snake_case name, flat properties). */
    track: function (name, properties) {
      send(name, properties);
    }
  };
})();
