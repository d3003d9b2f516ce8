/* Inside the embed's iframe: tell the host page how tall the content is (read by
 * static/js/embed.js there), whenever it changes. Does nothing outside a frame. */
(function () {
  "use strict";
  if (window.parent === window || !window.postMessage) return;

  var last = 0;
  function post() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "onceslot:height", height: height }, "*");
  }

  post();
  window.addEventListener("load", post);
  window.addEventListener("resize", post);
  if (window.ResizeObserver) new ResizeObserver(post).observe(document.body);
})();
