/*
 * wagtail-journeys tracker: time on page and custom events.
 *
 * Loaded by {% journeys_tracker %}. No dependencies, no cookies of its own
 * (the server's HttpOnly visitor cookie rides along with each beacon).
 *
 *   window.journeys.track("video_played", {video: "intro"});
 *   window.journeys.push.subscribe();  // from a click handler: see docs/push.md
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

  // Web push. Permission is asked for only inside subscribe(), which a site
  // calls from a click (or the {% journeys_push_button %} does): browsers
  // ignore or penalise prompts that no user action asked for.
  var pushKey = script.getAttribute("data-journeys-push-key");
  var pushUrls = {
    subscribe: script.getAttribute("data-journeys-push-subscribe"),
    unsubscribe: script.getAttribute("data-journeys-push-unsubscribe"),
    worker: script.getAttribute("data-journeys-push-worker")
  };
  var pushSupported = !!(
    pushKey &&
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window &&
    window.Promise &&
    window.fetch
  );

  function keyBytes(base64url) {
    var base64 = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+")
      .replace(/_/g, "/");
    var raw = window.atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function post(url, data) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(data)
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("journeys: " + url + " answered " + response.status);
      }
    });
  }

  function registration() {
    return navigator.serviceWorker
      .register(pushUrls.worker, { scope: "/" })
      .then(function () {
        // pushManager.subscribe needs an active worker, not just a registered one.
        return navigator.serviceWorker.ready;
      });
  }

  /** Ask for permission (call from a click), subscribe and store the subscription.
   *  Resolves to "subscribed", "denied", "default" (dismissed) or "unsupported". */
  function subscribe() {
    if (!pushSupported) {
      return Promise.resolve("unsupported");
    }
    // Asked first, while the click's user activation is still fresh. Older
    // Safari answers through a callback instead of a promise.
    var asked = new Promise(function (resolve) {
      var promise = Notification.requestPermission(resolve);
      if (promise && promise.then) {
        promise.then(resolve);
      }
    });
    return asked.then(function (permission) {
      if (permission !== "granted") {
        return permission;
      }
      return registration()
        .then(function (reg) {
          return reg.pushManager.getSubscription().then(function (existing) {
            return (
              existing ||
              reg.pushManager.subscribe({
                userVisibleOnly: true,
                applicationServerKey: keyBytes(pushKey)
              })
            );
          });
        })
        .then(function (subscription) {
          var data = subscription.toJSON ? subscription.toJSON() : subscription;
          return post(pushUrls.subscribe, data);
        })
        .then(function () {
          return "subscribed";
        });
    });
  }

  /** Stop notifications to this browser. Resolves to true if there was a subscription. */
  function unsubscribe() {
    if (!pushSupported) {
      return Promise.resolve(false);
    }
    return navigator.serviceWorker
      .getRegistration("/")
      .then(function (reg) {
        return reg ? reg.pushManager.getSubscription() : null;
      })
      .then(function (subscription) {
        if (!subscription) {
          return false;
        }
        var endpoint = subscription.endpoint;
        return subscription
          .unsubscribe()
          .then(function () {
            return post(pushUrls.unsubscribe, { endpoint: endpoint });
          })
          .then(function () {
            return true;
          });
      });
  }

  function setUpButtons() {
    var buttons = document.querySelectorAll("[data-journeys-push-button]");
    for (var i = 0; i < buttons.length; i++) {
      if (pushSupported && Notification.permission !== "denied") {
        buttons[i].hidden = false;
      }
      buttons[i].addEventListener("click", onButtonClick);
    }
  }

  function onButtonClick(event) {
    var button = event.currentTarget;
    button.disabled = true;
    subscribe().then(
      function (state) {
        button.setAttribute("data-journeys-push-state", state);
        button.disabled = state === "subscribed";
      },
      function (error) {
        button.setAttribute("data-journeys-push-state", "failed");
        button.disabled = false;
        if (window.console) {
          window.console.warn("journeys: push subscription failed", error);
        }
      }
    );
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpButtons);
  } else {
    setUpButtons();
  }

  window.journeys = {
    /** Record a custom event (lower_snake_case name, flat properties). */
    track: function (name, properties) {
      send(name, properties);
    },
    push: {
      /** Whether this browser can receive web push from this site. */
      supported: pushSupported,
      subscribe: subscribe,
      unsubscribe: unsubscribe
    }
  };
})();
