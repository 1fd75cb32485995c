// The playback page: the current utterance follows the audio, a click seeks, "#t=123.4" opens
// at that moment, and the box searches within the session (with or without diacritics).
(() => {
  "use strict";
  const audio = document.getElementById("audio");
  const items = Array.from(document.querySelectorAll(".utterance"));
  const within = document.getElementById("within");
  const count = document.getElementById("within-count");
  let current = null;

  const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[đĐ]/g, "d").toLowerCase();

  function seek(t) {
    audio.currentTime = t;
    highlight();
  }

  function fromHash() {
    const m = /(?:^#|&)t=([0-9]+(?:\.[0-9]+)?)/.exec(location.hash);
    return m ? parseFloat(m[1]) : null;
  }

  function highlight() {
    const t = audio.currentTime;
    let found = null;
    for (const li of items) {
      if (parseFloat(li.dataset.start) <= t + 0.05) found = li; else break;
    }
    if (found && t > parseFloat(found.dataset.end) + 2) found = null;
    if (found === current) return;
    if (current) current.classList.remove("current");
    current = found;
    if (current) {
      current.classList.add("current");
      current.scrollIntoView({ block: "nearest" });
    }
  }

  for (const li of items) {
    const go = () => {
      seek(parseFloat(li.dataset.start));
      history.replaceState(null, "", "#t=" + parseFloat(li.dataset.start).toFixed(1));
      audio.play().catch(() => {});
    };
    li.addEventListener("click", go);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
  }
  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);
  audio.addEventListener("error", () => { document.getElementById("audio-error").hidden = false; });

  function openAtHash() {
    const t = fromHash();
    if (t === null) return;
    if (audio.readyState >= 1) seek(t);
    else audio.addEventListener("loadedmetadata", () => seek(t), { once: true });
  }
  window.addEventListener("hashchange", openAtHash);
  openAtHash();

  within.addEventListener("input", () => {
    const words = fold(within.value).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    let n = 0;
    let first = null;
    for (const li of items) {
      const text = " " + li.dataset.folded + " ";
      const hit = words.length > 0 && words.every((w) => text.includes(" " + w));
      li.classList.toggle("match", hit);
      if (hit) { n += 1; first = first || li; }
    }
    count.textContent = words.length ? `${n} đoạn` : "";
    if (first) first.scrollIntoView({ block: "center" });
  });
  document.body.dataset.ready = "1";
})();
