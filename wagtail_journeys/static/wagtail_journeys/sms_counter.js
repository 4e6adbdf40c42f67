/*
 * The live character and segment counter under an SMS template's text.
 *
 * The same rules as wagtail_journeys/channels/sms_text.py (keep them in step):
 * GSM-7 when every character is in the GSM 03.38 basic or extension table
 * (extension characters count two), else UCS-2 counting UTF-16 code units
 * (an emoji counts two); 160/153 characters a segment in GSM-7, 70/67 in
 * UCS-2; a two-unit character never straddles two segments.
 *
 * It counts the text as written: merge fields are filled in per contact, so
 * the preview shows the real count of a rendered message.
 *
 * Markup (rendered by the SmsTextInput widget):
 *   <textarea id="X" data-journeys-sms-counter="X-sms-counter">
 *   <p id="X-sms-counter" data-labels='{"character": [...], ...}'>
 */
(function () {
  "use strict";

  var GSM7_BASIC =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXTENSION = "\f^{}\\[~]|€";
  var SINGLE = { "GSM-7": 160, "UCS-2": 70 };
  var MULTIPART = { "GSM-7": 153, "UCS-2": 67 };

  function isGsm7(char) {
    return GSM7_BASIC.indexOf(char) !== -1 || GSM7_EXTENSION.indexOf(char) !== -1;
  }

  function segments(text) {
    // Array.from splits by code point: an emoji is one entry of length 2.
    var chars = Array.from(text);
    var nonGsm = [];
    chars.forEach(function (char) {
      if (!isGsm7(char) && nonGsm.indexOf(char) === -1) nonGsm.push(char);
    });
    var encoding = nonGsm.length ? "UCS-2" : "GSM-7";
    var units = chars.map(function (char) {
      if (encoding === "GSM-7") return GSM7_EXTENSION.indexOf(char) !== -1 ? 2 : 1;
      return char.length;
    });
    var characters = units.reduce(function (sum, unit) { return sum + unit; }, 0);
    var single = SINGLE[encoding];
    if (characters <= single) {
      return {
        encoding: encoding, characters: characters, segments: characters ? 1 : 0,
        perSegment: single, remaining: single - characters, nonGsm: nonGsm,
      };
    }
    var perSegment = MULTIPART[encoding];
    var count = 1;
    var used = 0;
    units.forEach(function (unit) {
      if (used + unit > perSegment) {
        count += 1;
        used = 0;
      }
      used += unit;
    });
    return {
      encoding: encoding, characters: characters, segments: count,
      perSegment: perSegment, remaining: perSegment - used, nonGsm: nonGsm,
    };
  }

  function plural(forms, count) {
    return (count === 1 ? forms[0] : forms[1]).replace("%(count)s", String(count));
  }

  function describe(length, labels) {
    var text =
      plural(labels.characters, length.characters) + " · " +
      plural(labels.segments, length.segments) + " (" + length.encoding + ")";
    if (length.nonGsm.length) {
      text += " · " + labels.ucs2.replace("%(characters)s", length.nonGsm.slice(0, 5).join(" "));
    }
    return text;
  }

  function attach(textarea) {
    if (textarea.dataset.journeysSmsCounterReady) return;
    var output = document.getElementById(textarea.dataset.journeysSmsCounter);
    if (!output) return;
    textarea.dataset.journeysSmsCounterReady = "true";
    var labels = JSON.parse(output.dataset.labels);
    var update = function () {
      // The text as the editor sees it: line breaks are one character here.
      var length = segments(textarea.value);
      output.textContent = describe(length, labels);
      output.dataset.segments = String(length.segments);
      output.dataset.encoding = length.encoding;
    };
    textarea.addEventListener("input", update);
    update();
  }

  function attachAll() {
    document.querySelectorAll("textarea[data-journeys-sms-counter]").forEach(attach);
  }

  window.wagtailJourneysSms = { segments: segments };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attachAll);
  } else {
    attachAll();
  }
})();
