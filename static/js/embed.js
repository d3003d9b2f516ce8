/* Onceslot embed: include this script on the page that holds the booking iframe.
 *
 *   <iframe src="https://book.example.com/embed/intro-call/" ...></iframe>
 *   <script src="https://book.example.com/static/js/embed.js" async></script>
 *
 * The booking page inside the frame posts its height (static/js/frame-height.js) and this
 * script sizes the frame to it, so the form and its Confirm button are never hidden behind
 * an inner scroll bar. Without this script the frame keeps its own height and scrolls.
 */
(function () {
  "use strict";
  if (window.__onceslotEmbed) return;
  window.__onceslotEmbed = true;

  var MESSAGE = "onceslot:height";

  function frameFor(source) {
    var frames = document.getElementsByTagName("iframe");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === source) return frames[i];
    }
    return null;
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== MESSAGE || typeof data.height !== "number") return;
    var frame = frameFor(event.source);
    if (!frame) return;
    // Only the frame's own origin may size it.
    var origin;
    try { origin = new URL(frame.src, window.location.href).origin; } catch (e) { return; }
    if (event.origin !== origin) return;
    var height = Math.max(0, Math.min(Math.ceil(data.height), 20000));
    frame.style.height = height + "px";
    frame.style.minHeight = "0";
    frame.setAttribute("scrolling", "no");
  });
})();
