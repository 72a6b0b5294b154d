// Lakeshore Watch: the clock of the alarm (see alarm.js). Chromium throttles chained timers of a
// page hidden for 5 minutes (a background tab, a window on top) to one wake-up a MINUTE; a dedicated
// worker's timers it does not throttle. So the page asks here to be woken ("poll in 1000 ms") and a
// new alarm sounds within about a second in a background tab, whatever the page's timers do.
// The worker only keeps time: the page does the fetch, the sound and everything else.
"use strict";

const timers = new Map(); // name -> timer; asking again for a name replaces its wake-up

self.onmessage = function (e) {
  const name = String(e.data && e.data.name);
  const ms = Math.max(0, Number(e.data && e.data.ms) || 0);
  self.clearTimeout(timers.get(name));
  timers.set(name, self.setTimeout(function () {
    timers.delete(name);
    self.postMessage(name);
  }, ms));
};
