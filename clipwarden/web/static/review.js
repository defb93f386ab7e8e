// The reviewer workstation: one clip in view, the next one prepared, answers from the keyboard.
//
// Everything shown comes from POST /api/review/next: a task token, a media URL signed for this cookie
// session, the lease's end, the camera AI's label. The page never learns whose clip it is. A reviewer may
// hold two leases, so at load it asks for the clip to show, then (holding that one) for the next, whose
// video loads, paused, in a second, hidden <video>. Submitting swaps the two at once; the answer is posted
// meanwhile, and only once it is in does the page ask for the clip after (until then the server would hand
// back the lease just answered, as one still held). Requests run one after another on one chain.
"use strict";

(() => {
  const STOP_KEYS = new Set(["p", "P"]);
  const POLL_WHEN_EMPTY_MS = 30000;
  const $ = (id) => document.getElementById(id);

  const ui = {
    root: $("workstation"),
    stage: $("stage"),
    views: [$("view-1"), $("view-2")],
    position: $("position"),
    confirm: $("confirm-stop"),
    waiting: $("waiting"),
    nothing: $("nothing"),
    token: $("task-token"),
    ai: $("ai-label"),
    redaction: $("redaction"),
    countdown: $("countdown"),
    submit: $("submit"),
    stop: $("stop"),
    status: $("status"),
    labels: Array.from(document.querySelectorAll("#labels [data-label]")),
    verdicts: Array.from(document.querySelectorAll("#verdict [data-ai]")),
  };
  const labelByKey = new Map(ui.labels.map((button) => [button.dataset.key, button.dataset.label]));

  // A slot is {work, video}: work is next()'s answer for one lease.
  const state = {
    current: null,
    prepared: null,
    label: null,
    aiCorrect: null,
    confirming: false,
    // The server's clock minus this browser's, so that countdowns follow the server's leases.
    skewMs: Date.parse(ui.root.dataset.serverNow) - Date.now(),
    chain: Promise.resolve(),
    pollTimer: null,
  };

  // Talking to the API

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 401) {
      window.location.assign("/sign-in?next=/review"); // the session ended: sign in again
    }
    let data = null;
    try {
      data = response.status === 204 ? null : await response.json();
    } catch (error) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  }

  function detail(reply) {
    const said = reply.data && reply.data.detail;
    return typeof said === "string" ? said : `the server answered ${reply.status}`;
  }

  async function ask(holding) {
    const reply = await post("/api/review/next", { holding });
    if (reply.status === 204) {
      return null;
    }
    if (!reply.ok) {
      throw new Error(`no clip: ${detail(reply)}`);
    }
    return reply.data;
  }

  function taskPath(slot, action) {
    return `/api/review/tasks/${encodeURIComponent(slot.work.task_token)}/${action}`;
  }

  // One request sequence at a time; a failure is shown and does not stop the chain.
  function serial(task) {
    state.chain = state.chain.then(task).catch((error) => say(String(error.message || error), true));
    return state.chain;
  }

  // The two videos

  function held() {
    return [state.current, state.prepared].filter(Boolean).map((slot) => slot.work.task_token);
  }

  function freeVideo() {
    return ui.views.find((video) => video !== slotVideo(state.current) && video !== slotVideo(state.prepared));
  }

  function slotVideo(slot) {
    return slot ? slot.video : null;
  }

  // A lease next() granted: it becomes the clip in view, or else the prepared one, loading hidden.
  function adopt(work) {
    const slot = { work, video: freeVideo() };
    slot.video.preload = "auto";
    slot.video.src = work.media_url;
    if (state.current) {
      state.prepared = slot;
      slot.video.dataset.role = "prepared";
    } else {
      state.current = slot;
      present(slot);
    }
  }

  function promote() {
    if (!state.prepared) {
      return false;
    }
    state.current = state.prepared;
    state.prepared = null;
    present(state.current);
    return true;
  }

  function present(slot) {
    const { work, video } = slot;
    clearAnswer();
    ui.waiting.hidden = true;
    ui.nothing.hidden = true;
    ui.token.textContent = work.task_token;
    ui.ai.textContent = work.ai_label ? work.ai_label.replace("_", " ") : "no label";
    ui.redaction.textContent = work.redacted ? "people pixelated" : "unredacted (the owner allowed it)";
    ui.stop.disabled = false;
    ui.position.hidden = false;
    video.dataset.role = "current";
    video.hidden = false;
    video.muted = true;
    const started = video.play();
    if (started) {
      started.catch(() => {}); // interrupted by a stop or a swap: nothing to report
    }
    tick();
  }

  // The view ends: playback stops and the element lets go of the media, so no frame of it stays here.
  function retire(slot) {
    const video = slot.video;
    video.pause();
    video.removeAttribute("src");
    video.load();
    video.hidden = true;
    video.dataset.role = "";
    ui.position.value = 0;
  }

  function dropCurrent(message, isError) {
    const slot = state.current;
    state.current = null;
    retire(slot);
    if (message) {
      say(message, isError);
    }
    if (!promote()) {
      showWaiting();
    }
    return slot;
  }

  function showWaiting() {
    ui.waiting.hidden = false;
    ui.nothing.hidden = true;
    clearFacts();
  }

  function showNothing() {
    ui.waiting.hidden = true;
    ui.nothing.hidden = false;
    clearFacts();
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(() => serial(refill), POLL_WHEN_EMPTY_MS);
  }

  function clearFacts() {
    ui.token.textContent = "–";
    ui.ai.textContent = "–";
    ui.redaction.textContent = "–";
    ui.countdown.textContent = "–";
    ui.stop.disabled = true;
    ui.position.hidden = true;
    clearAnswer();
  }

  // Fill both places: the clip in view (the prepared one, if any, else a new one) and the prepared one.
  async function refill() {
    clearTimeout(state.pollTimer);
    if (!state.current) {
      promote();
    }
    if (!state.current) {
      const work = await ask(held());
      if (!work) {
        showNothing();
        return;
      }
      adopt(work);
    }
    if (state.current && !state.prepared) {
      const work = await ask(held());
      if (work && !held().includes(work.task_token)) {
        adopt(work);
      }
    }
  }

  // A video that failed to load (its URL expired, or the clip went away): ask for the same task again.
  // The same token comes back with a fresh URL while the lease runs; otherwise the lease has ended.
  async function renew(slot) {
    if (slot !== state.current && slot !== state.prepared) {
      return;
    }
    const others = held().filter((token) => token !== slot.work.task_token);
    const work = await ask(others);
    if (work && work.task_token === slot.work.task_token) {
      const resumeAt = slot.video.currentTime;
      slot.work = work;
      slot.video.src = work.media_url;
      slot.video.currentTime = resumeAt;
      if (slot === state.current) {
        slot.video.play().catch(() => {});
      }
      return;
    }
    if (slot === state.current) {
      dropCurrent("That clip is no longer available to you (its lease ended); moving on.", true);
    } else {
      state.prepared = null;
      retire(slot);
    }
    if (work) {
      adopt(work); // next() granted another lease in its place
    }
    await refill();
  }

  // Answers

  function choose(label) {
    if (!state.current) {
      return;
    }
    state.label = label;
    ui.labels.forEach((button) => button.setAttribute("aria-pressed", String(button.dataset.label === label)));
    ui.submit.disabled = false;
  }

  function judge(correct) {
    if (!state.current) {
      return;
    }
    state.aiCorrect = correct;
    ui.verdicts.forEach((button) => button.setAttribute("aria-pressed", String(button.dataset.ai === String(correct))));
  }

  function clearAnswer() {
    state.label = null;
    state.aiCorrect = null;
    [...ui.labels, ...ui.verdicts].forEach((button) => button.setAttribute("aria-pressed", "false"));
    ui.submit.disabled = true;
  }

  function submit() {
    if (!state.current || state.label === null) {
      return;
    }
    const answer = { label: state.label, ai_correct: state.aiCorrect };
    const answered = dropCurrent(); // the prepared clip plays now, before anything goes over the network
    serial(async () => {
      const reply = await post(taskPath(answered, "annotations"), answer);
      say(reply.ok ? `Recorded: ${answer.label.replace("_", " ")}.` : `Not recorded: ${detail(reply)}`, !reply.ok);
      await refill();
    });
  }

  // "Private content: stop"

  function askStop() {
    if (!state.current) {
      return;
    }
    state.current.video.pause();
    ui.stage.classList.add("veiled"); // nothing more of the clip is seen while the reviewer decides
    ui.confirm.hidden = false;
    state.confirming = true;
  }

  function cancelStop() {
    state.confirming = false;
    ui.confirm.hidden = true;
    ui.stage.classList.remove("veiled");
    if (state.current) {
      state.current.video.play().catch(() => {});
    }
  }

  function stopNow() {
    state.confirming = false;
    ui.confirm.hidden = true;
    ui.stage.classList.remove("veiled");
    const slot = state.current;
    if (!slot) {
      return;
    }
    state.current = null;
    retire(slot); // the view ends here, before the server hears of it
    showWaiting();
    say("Stopped. Taking the clip out of review…");
    serial(async () => {
      const reply = await post(taskPath(slot, "flag-private"), {});
      say(
        reply.ok
          ? "Stopped: the clip was taken out of review for everyone, and its owner is told. Thank you."
          : `The stop was not recorded: ${detail(reply)}`,
        !reply.ok,
      );
      await refill();
    });
  }

  // Time and position

  function tick() {
    const slot = state.current;
    if (!slot) {
      ui.countdown.textContent = "–";
      return;
    }
    const left = Date.parse(slot.work.expires_at) - (Date.now() + state.skewMs);
    if (left <= 0) {
      dropCurrent("Time ran out for that clip: its lease ended and the task went back to the queue.", true);
      serial(refill);
      return;
    }
    const seconds = Math.ceil(left / 1000);
    ui.countdown.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    ui.countdown.classList.toggle("short", seconds <= 60);
  }

  function showPosition(event) {
    const video = event.target;
    if (state.current && video === state.current.video && video.duration > 0) {
      ui.position.value = video.currentTime / video.duration;
    }
  }

  function togglePlay() {
    const video = slotVideo(state.current);
    if (video) {
      (video.paused ? video.play() : Promise.resolve(video.pause())).catch(() => {});
    }
  }

  function restart() {
    const video = slotVideo(state.current);
    if (video) {
      video.currentTime = 0;
      video.play().catch(() => {});
    }
  }

  function say(text, isError) {
    ui.status.textContent = text;
    ui.status.classList.toggle("error", Boolean(isError));
  }

  // Keys

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) {
      return;
    }
    const key = event.key;
    if (state.confirming) {
      if (STOP_KEYS.has(key) || key === "Enter") {
        stopNow();
      } else if (key === "Escape") {
        cancelStop();
      }
      event.preventDefault();
      return;
    }
    const actions = {
      Enter: submit,
      Backspace: clearAnswer,
      " ": togglePlay,
      y: () => judge(true),
      Y: () => judge(true),
      n: () => judge(false),
      N: () => judge(false),
      r: restart,
      R: restart,
      p: askStop,
      P: askStop,
    };
    const action = labelByKey.has(key) ? () => choose(labelByKey.get(key)) : actions[key];
    if (action) {
      event.preventDefault(); // no button click, scroll or history step on top of it
      action();
    }
  }

  function onVideoError(event) {
    const slot = [state.current, state.prepared].find((candidate) => candidate && candidate.video === event.target);
    if (slot && event.target.getAttribute("src")) {
      serial(() => renew(slot));
    }
  }

  function start() {
    document.addEventListener("keydown", onKey);
    ui.labels.forEach((button) => button.addEventListener("click", () => choose(button.dataset.label)));
    ui.verdicts.forEach((button) => button.addEventListener("click", () => judge(button.dataset.ai === "true")));
    ui.submit.addEventListener("click", submit);
    ui.stop.addEventListener("click", stopNow); // the button acts at once; the key asks first
    $("again").addEventListener("click", () => serial(refill));
    ui.views.forEach((video) => {
      video.addEventListener("error", onVideoError);
      video.addEventListener("timeupdate", showPosition);
      video.addEventListener("click", togglePlay);
      video.addEventListener("contextmenu", (event) => event.preventDefault()); // no "save video as"
    });
    setInterval(tick, 250);
    serial(refill);
  }

  start();
})();
