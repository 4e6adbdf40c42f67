/*
 * wagtail-journeys service worker: shows web push notifications and opens
 * their link (the click-tracking URL) when one is clicked.
 *
 * Served by the view at {% url "wagtail_journeys:push_service_worker" %} with
 * "Service-Worker-Allowed: /", registered by tracker.js with scope "/".
 */
"use strict";

var SUBSCRIBE_URL = "{{ subscribe_url|escapejs }}";

self.addEventListener("install", function () {
  // A new version takes over at once: it only shows notifications.
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  var options = {
    body: data.body || "",
    data: { url: data.url || "/" }
  };
  if (data.icon) {
    options.icon = data.icon;
  }
  if (data.message_id) {
    // The same message delivered twice replaces itself instead of stacking.
    options.tag = "journeys-" + data.message_id;
  }
  event.waitUntil(self.registration.showNotification(data.title || "", options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = event.notification.data && event.notification.data.url;
  if (url) {
    event.waitUntil(self.clients.openWindow(url));
  }
});

self.addEventListener("pushsubscriptionchange", function (event) {
  // The browser replaced the subscription (keys rotated, expired): store the new one.
  var options = event.oldSubscription && event.oldSubscription.options;
  var next = event.newSubscription
    ? Promise.resolve(event.newSubscription)
    : options
      ? self.registration.pushManager.subscribe(options)
      : Promise.resolve(null);
  event.waitUntil(
    next.then(function (subscription) {
      if (!subscription) {
        return null;
      }
      return fetch(SUBSCRIBE_URL, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(subscription.toJSON())
      });
    })
  );
});
