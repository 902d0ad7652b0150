// The page of `python -m ferpipe serve`: photos and the webcam sent to POST /api/predict, the model card
// from GET /api/model. Plain JavaScript, no build step.
"use strict";

const SEND_WIDTH = 320; // webcam frames are sent downscaled to this width
const PHOTO_RETRIES = 10; // a photo answered 503 is sent again after Retry-After, this many times
const $ = (id) => document.getElementById(id);
let card = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function say(message, kind = "error") {
  const status = $("status");
  status.hidden = !message;
  status.textContent = message || "";
  status.className = kind;
  status.dataset.kind = message ? kind : "";
}

async function errorOf(response) {
  // The API answers every error as {"error": "..."}; anything else (a proxy's page) is named by its status.
  try {
    const doc = await response.json();
    if (doc && doc.error) return doc.error;
  } catch (e) { /* not JSON */ }
  return `the server answered ${response.status} ${response.statusText}`;
}

function busyMessage(response) {
  const wait = Number(response.headers.get("Retry-After") || 1);
  return { wait, text: `The server is busy (503): it is answering as many requests as it takes; trying again in ${wait} s.` };
}

// ---- the model card ----
function pct(x) { return `${(100 * x).toFixed(1)}%`; }

async function loadCard() {
  let response;
  try {
    response = await fetch("/api/model");
  } catch (e) {
    say("The server cannot be reached: is `python -m ferpipe serve` still running?");
    return;
  }
  if (!response.ok) { say(await errorOf(response)); return; }
  const doc = await response.json();
  card = doc;
  const c = doc.card;
  $("model-line").textContent = `Model: ${doc.description}`;
  const rows = [
    ["Served from", doc.folder],
    ["Network", `${c.network.arch || "?"}, ${c.crop_size}x${c.crop_size} grey face crops, exported from ${c.network.exported_on}`],
    ["Trained on", `${c.dataset.name}`],
    ["Dataset content hash", c.dataset.content_hash],
    ["Test accuracy", `softmax ${pct(c.test_accuracy.softmax)}` +
      (c.test_accuracy.svm === null ? " (a network-only model: no SVM head)" : `, SVM ${pct(c.test_accuracy.svm)}`)],
    ["Training precision", c.network.trained_precision || "not recorded"],
    ["SVM probabilities", doc.probability_notes.svm || "no SVM head"],
    ["Commit", doc.commit ? `${doc.commit.hash.slice(0, 12)} (${doc.commit.date}, ${doc.commit.from})` +
      (doc.commit.uncommitted_changes ? ", with uncommitted changes" : "") : "not in a Git repository"],
    ["Classes", c.classes.join(", ")],
    ["Limits", `${(doc.limits.max_bytes / 1048576).toFixed(1)} MiB, ${(doc.limits.max_pixels / 1e6).toFixed(1)} megapixels an upload`],
  ];
  const list = $("card");
  list.replaceChildren();
  for (const [name, value] of rows) {
    list.append(el("dt", {}, name), el("dd", { "data-field": name }, value));
  }
}

// ---- photos ----
function bars(classes, face, head, note) {
  const block = el("div", { class: "head", "data-head": head });
  block.append(el("div", { class: "head-name", title: note }, head === "svm" ? "SVM on the network's features" : "network's softmax"));
  for (const name of classes) {
    const p = face.probabilities[name];
    const row = el("div", { class: "bar" + (name === face.predicted ? " top" : ""), "data-class": name, "data-p": String(p) },
      el("span", { class: "cls" }, name),
      el("span", { class: "track" }, el("span", { class: "fill", style: `width:${(100 * p).toFixed(1)}%` })),
      el("span", { class: "val" }, p.toFixed(3)));
    block.append(row);
  }
  return block;
}

function showPhoto(article, url, doc) {
  const heads = Object.keys(doc.heads);
  const first = doc.heads[heads[0]].faces;
  article.querySelector("h3").textContent =
    `${doc.photo}: ${first.length ? `${first.length} face${first.length > 1 ? "s" : ""}` : "no face found"}`;
  const figure = el("div", { class: "figure" }, el("img", { src: url, alt: doc.photo }));
  const faces = el("div", { class: "faces" });
  first.forEach((face, i) => {
    const [x1, y1, x2, y2] = face.box;
    const style = `left:${(100 * x1 / doc.width).toFixed(2)}%;top:${(100 * y1 / doc.height).toFixed(2)}%;` +
      `width:${(100 * (x2 - x1) / doc.width).toFixed(2)}%;height:${(100 * (y2 - y1) / doc.height).toFixed(2)}%`;
    const p = face.probabilities[face.predicted];
    figure.append(el("div", { class: "box", style }, el("span", { class: "box-label" }, `${i + 1} ${face.predicted} ${p.toFixed(2)}`)));
    const block = el("div", { class: "face", "data-face": String(i + 1), "data-box": JSON.stringify(face.box) });
    block.append(el("h4", {}, `Face ${i + 1}: `, el("span", { class: "predicted" }, face.predicted),
      el("span", { class: "conf" }, `detection confidence ${face.detection_confidence.toFixed(3)}`)));
    for (const head of heads) {
      const h = doc.heads[head];
      block.append(bars(doc.classes, h.faces[i], head, h.probabilities_note));
    }
    faces.append(block);
  });
  if (!first.length) {
    faces.append(el("p", { class: "no-face" }, `No face found in ${doc.photo}: MTCNN saw none. Try a photo where a face is larger, lit and facing the camera.`));
  }
  article.querySelector(".photo-body").replaceChildren(figure, faces);
}

async function sendPhoto(file) {
  const article = el("article", { class: "photo-result", "data-photo": file.name },
    el("h3", {}, `${file.name}: sending\u2026`), el("div", { class: "photo-body" }));
  $("results").prepend(article);
  const form = new FormData();
  form.append("file", file, file.name);
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch("/api/predict", { method: "POST", body: form });
    } catch (e) {
      article.dataset.state = "error";
      article.querySelector(".photo-body").replaceChildren(el("p", { class: "error" }, `${file.name}: the server cannot be reached`));
      say("The server cannot be reached: is `python -m ferpipe serve` still running?");
      return;
    }
    if (response.status === 503 && attempt < PHOTO_RETRIES) {
      const busy = busyMessage(response);
      say(busy.text, "busy");
      await new Promise((r) => setTimeout(r, 1000 * busy.wait));
      continue;
    }
    if (!response.ok) {
      const message = response.status === 503 ? busyMessage(response).text : await errorOf(response);
      article.dataset.state = "error";
      article.querySelector("h3").textContent = `${file.name}: not used`;
      article.querySelector(".photo-body").replaceChildren(el("p", { class: "error" }, message));
      say(message, response.status === 503 ? "busy" : "error");
      return;
    }
    const doc = await response.json();
    showPhoto(article, URL.createObjectURL(file), doc);
    const found = Object.values(doc.heads)[0].faces.length;
    article.dataset.state = found ? "done" : "no-face";
    say(found ? "" : `No face found in ${file.name}.`, "notice");
    return;
  }
}

async function sendPhotos(files) {
  for (const file of files) await sendPhoto(file); // one at a time: the server's queue is for everyone
}

// ---- webcam ----
const camera = { stream: null, running: false, frames: 0, times: [] };

async function startCamera() {
  say("");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("This page cannot use a camera here: browsers allow the webcam only on localhost or over HTTPS.");
    return;
  }
  try {
    camera.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) {
    const why = {
      NotAllowedError: "The camera was refused: allow this page to use the camera (the icon in the address bar) and start it again.",
      SecurityError: "The camera was refused: allow this page to use the camera (the icon in the address bar) and start it again.",
      NotFoundError: "No camera was found on this computer.",
      NotReadableError: "The camera is in use by another program, or cannot be read.",
    }[e.name] || `The camera could not start (${e.name}: ${e.message}).`;
    say(why);
    $("webcam-panel").dataset.camera = "refused";
    return;
  }
  const video = $("video");
  video.srcObject = camera.stream;
  await video.play().catch(() => {});
  camera.running = true;
  $("webcam-panel").dataset.camera = "on";
  $("camera-start").disabled = true;
  $("camera-stop").disabled = false;
  liveLoop();
}

function stopCamera() {
  camera.running = false;
  if (camera.stream) camera.stream.getTracks().forEach((t) => t.stop());
  camera.stream = null;
  $("webcam-panel").dataset.camera = "off";
  $("camera-start").disabled = false;
  $("camera-stop").disabled = true;
  const overlay = $("overlay");
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
}

function grabFrame(video, canvas) {
  const scale = Math.min(1, SEND_WIDTH / video.videoWidth);
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
}

function drawLive(doc, video) {
  const overlay = $("overlay");
  overlay.width = video.videoWidth;
  overlay.height = video.videoHeight;
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  const scale = video.videoWidth / doc.width;
  const faces = doc.heads.softmax.faces;
  const items = [];
  ctx.lineWidth = Math.max(2, overlay.width / 250);
  ctx.font = `${Math.max(14, Math.round(overlay.width / 32))}px system-ui, sans-serif`;
  faces.forEach((face, i) => {
    const [x1, y1, x2, y2] = face.box.map((v) => v * scale);
    const label = `${face.predicted} ${face.probabilities[face.predicted].toFixed(2)}`;
    ctx.strokeStyle = "#ffc800";
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const w = ctx.measureText(label).width + 8, h = parseInt(ctx.font, 10) + 6;
    const top = y1 - h >= 0 ? y1 - h : y2;
    ctx.fillStyle = "#ffc800";
    ctx.fillRect(x1, top, w, h);
    ctx.fillStyle = "#000";
    ctx.fillText(label, x1 + 4, top + h - 6);
    items.push(el("li", { class: "live-face", "data-predicted": face.predicted }, `Face ${i + 1}: ${label}`));
  });
  if (!items.length) items.push(el("li", { class: "live-none" }, "No face in view."));
  $("live-labels").replaceChildren(...items);
}

async function liveLoop() {
  const video = $("video");
  const canvas = document.createElement("canvas");
  while (camera.running) {
    if (video.readyState < 2 || !video.videoWidth) { await new Promise((r) => setTimeout(r, 50)); continue; }
    const blob = await grabFrame(video, canvas); // taken now: the newest frame, never a queued one
    let response;
    try {
      response = await fetch("/api/predict?head=softmax", { method: "POST", headers: { "Content-Type": "image/jpeg", "X-Filename": "webcam.jpg" }, body: blob });
    } catch (e) {
      say("The server cannot be reached: is `python -m ferpipe serve` still running?");
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (response.status === 503) {
      const busy = busyMessage(response);
      say(busy.text, "busy");
      await new Promise((r) => setTimeout(r, 1000 * busy.wait));
      continue;
    }
    if (!response.ok) {
      say(await errorOf(response));
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    const doc = await response.json();
    if (!camera.running) break;
    if ($("status").dataset.kind) say("");
    drawLive(doc, video);
    const now = performance.now();
    camera.frames += 1;
    camera.times.push(now);
    while (camera.times.length && now - camera.times[0] > 3000) camera.times.shift();
    const fps = camera.times.length > 1 ? 1000 * (camera.times.length - 1) / (now - camera.times[0]) : 0;
    const fpsNode = $("live-fps");
    fpsNode.dataset.frames = String(camera.frames);
    fpsNode.textContent = `${fps.toFixed(1)} frames/s`;
  }
}

// ---- modes and wiring ----
function mode(name) {
  const webcam = name === "webcam";
  $("photos-panel").hidden = webcam;
  $("webcam-panel").hidden = !webcam;
  $("mode-photos").setAttribute("aria-selected", String(!webcam));
  $("mode-webcam").setAttribute("aria-selected", String(webcam));
  if (!webcam && camera.running) stopCamera();
  say("");
}

$("mode-photos").addEventListener("click", () => mode("photos"));
$("mode-webcam").addEventListener("click", () => mode("webcam"));
$("camera-start").addEventListener("click", startCamera);
$("camera-stop").addEventListener("click", stopCamera);
$("file-input").addEventListener("change", (e) => { sendPhotos([...e.target.files]); e.target.value = ""; });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  sendPhotos([...e.dataTransfer.files]);
});
loadCard();
