// The bld mask painter: open an image, paint the area to edit, submit to the native API (/v1/edits), follow
// its Server-Sent Events, compare and download the result. Plain browser JavaScript, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const imageCanvas = $("image-canvas");
const maskCanvas = $("mask-canvas");
const maskContext = maskCanvas.getContext("2d");
const state = { imageDataURL: null, mode: "paint", drawing: false, last: null, undo: [], job: null, progressEvents: 0 };

function setStatus(text) { $("status").textContent = text; }

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    const image = new Image();
    image.onload = () => {
      for (const canvas of [imageCanvas, maskCanvas]) { canvas.width = image.naturalWidth; canvas.height = image.naturalHeight; }
      // Shown with its longer side 512 CSS pixels (small images enlarged, large ones reduced).
      const display = 512 / Math.max(image.naturalWidth, image.naturalHeight);
      imageCanvas.style.width = Math.round(image.naturalWidth * display) + "px";
      imageCanvas.getContext("2d").drawImage(image, 0, 0);
      maskContext.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
      state.undo = [];
      state.imageDataURL = reader.result;
      $("before").src = reader.result;
      $("stage").classList.remove("empty");
      setStatus("paint the area to edit");
    };
    image.src = reader.result;
  };
  reader.readAsDataURL(file);
});

function selectTool(mode) {
  state.mode = mode;
  $("paint").classList.toggle("active", mode === "paint");
  $("erase").classList.toggle("active", mode === "erase");
}
$("paint").addEventListener("click", () => selectTool("paint"));
$("erase").addEventListener("click", () => selectTool("erase"));
$("brush").addEventListener("input", () => { $("brush-size").textContent = $("brush").value; });

function canvasPoint(event) {
  const box = maskCanvas.getBoundingClientRect();
  const scale = maskCanvas.width / box.width;
  return { x: (event.clientX - box.left) * scale, y: (event.clientY - box.top) * scale, scale };
}

function pushUndo() {
  state.undo.push(maskContext.getImageData(0, 0, maskCanvas.width, maskCanvas.height));
  if (state.undo.length > 30) state.undo.shift();
}

function strokeTo(point) {
  maskContext.globalCompositeOperation = state.mode === "paint" ? "source-over" : "destination-out";
  maskContext.strokeStyle = "rgb(255, 0, 0)";
  maskContext.fillStyle = "rgb(255, 0, 0)";
  maskContext.lineCap = "round";
  maskContext.lineJoin = "round";
  maskContext.lineWidth = Number($("brush").value) * point.scale;
  const from = state.last || point;
  maskContext.beginPath();
  maskContext.moveTo(from.x, from.y);
  maskContext.lineTo(point.x + 0.01, point.y);
  maskContext.stroke();
  state.last = point;
}

maskCanvas.addEventListener("pointerdown", (event) => {
  if ($("stage").classList.contains("empty")) return;
  maskCanvas.setPointerCapture(event.pointerId);
  pushUndo();
  state.drawing = true;
  state.last = null;
  strokeTo(canvasPoint(event));
});
maskCanvas.addEventListener("pointermove", (event) => { if (state.drawing) strokeTo(canvasPoint(event)); });
for (const name of ["pointerup", "pointercancel"]) {
  maskCanvas.addEventListener(name, () => { state.drawing = false; state.last = null; });
}

$("undo").addEventListener("click", () => { const data = state.undo.pop(); if (data) maskContext.putImageData(data, 0, 0); });
$("clear").addEventListener("click", () => { pushUndo(); maskContext.clearRect(0, 0, maskCanvas.width, maskCanvas.height); });
$("invert").addEventListener("click", () => {
  pushUndo();
  const data = maskContext.getImageData(0, 0, maskCanvas.width, maskCanvas.height);
  for (let i = 0; i < data.data.length; i += 4) {
    const painted = data.data[i + 3] >= 128;
    data.data[i] = 255; data.data[i + 1] = 0; data.data[i + 2] = 0; data.data[i + 3] = painted ? 0 : 255;
  }
  maskContext.putImageData(data, 0, 0);
});

// The mask as the API reads it: white (edit) where painted, black elsewhere.
function maskPNG() {
  const source = maskContext.getImageData(0, 0, maskCanvas.width, maskCanvas.height);
  const canvas = document.createElement("canvas");
  canvas.width = maskCanvas.width; canvas.height = maskCanvas.height;
  const context = canvas.getContext("2d");
  const out = context.createImageData(canvas.width, canvas.height);
  let painted = 0;
  for (let i = 0; i < source.data.length; i += 4) {
    const value = source.data[i + 3] >= 128 ? 255 : 0;
    if (value) painted++;
    out.data[i] = out.data[i + 1] = out.data[i + 2] = value; out.data[i + 3] = 255;
  }
  context.putImageData(out, 0, 0);
  return { dataURL: canvas.toDataURL("image/png"), painted };
}

function headers(json) {
  const result = json ? { "Content-Type": "application/json" } : {};
  const key = $("api-key").value.trim();
  if (key) result.Authorization = "Bearer " + key;
  return result;
}

async function errorText(response) {
  try { const body = await response.json(); return body.error ? body.error.message : response.statusText; }
  catch (_) { return response.status + " " + response.statusText; }
}

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!state.imageDataURL) { setStatus("open an image first"); return; }
  const mask = maskPNG();
  if (!mask.painted) { setStatus("paint the area to edit first"); return; }
  const body = {
    image: state.imageDataURL, mask: mask.dataURL, prompt: $("prompt").value,
    negative_prompt: $("negative").value, steps: Number($("steps").value), guidance: Number($("guidance").value),
    strength: Number($("strength").value), scheduler: $("scheduler").value, background: $("background").value,
    feather: Number($("feather").value), preview: true,
  };
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  $("submit").disabled = true;
  $("progress").value = 0;
  setStatus("submitting…");
  try {
    const response = await fetch("/v1/edits", { method: "POST", headers: headers(true), body: JSON.stringify(body) });
    if (!response.ok) throw new Error(await errorText(response));
    state.job = (await response.json()).id;
    $("cancel").disabled = false;
    await follow(state.job);
  } catch (error) {
    setStatus("error: " + error.message);
  } finally {
    $("submit").disabled = false;
    $("cancel").disabled = true;
  }
});

$("cancel").addEventListener("click", async () => {
  if (state.job) await fetch("/v1/edits/" + state.job + "/cancel", { method: "POST", headers: headers(false) });
});

// Reads the job's Server-Sent Events (with fetch, so the API key header can be sent).
async function follow(id) {
  const response = await fetch("/v1/edits/" + id + "/events", { headers: headers(false) });
  if (!response.ok) throw new Error(await errorText(response));
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) await handle(name, JSON.parse(data));
    }
  }
}

async function handle(name, job) {
  const progress = job.progress;
  if (name === "progress") {
    if (job.status === "queued") { setStatus("queued (" + job.position + " ahead)"); return; }
    if (!progress) { setStatus("starting…"); return; }
    state.progressEvents++;
    document.body.dataset.progressEvents = String(state.progressEvents);
    $("progress").value = progress.fraction;
    const eta = progress.eta_seconds !== undefined ? " · about " + Math.ceil(progress.eta_seconds) + " s left" : "";
    setStatus(progress.phase + " " + progress.completed + "/" + progress.total + eta);
    if (progress.preview) { $("preview").src = progress.preview; $("preview").hidden = false; }
    return;
  }
  if (name !== "succeeded") {
    setStatus(name + (job.error ? ": " + job.error.message : ""));
    return;
  }
  $("progress").value = 1;
  const response = await fetch(job.results[0], { headers: headers(false) });
  if (!response.ok) throw new Error(await errorText(response));
  const url = URL.createObjectURL(await response.blob());
  $("after").src = url;
  $("download").href = url;
  $("download").download = "edit-" + (job.seeds[0] !== undefined ? job.seeds[0] : "result") + ".png";
  $("result").hidden = false;
  document.body.dataset.resultReady = "true";
  setStatus("done in " + (job.run_seconds || 0).toFixed(1) + " s (seed " + job.seeds[0] + ")");
}

function fitBefore() { $("before").style.width = $("after").clientWidth + "px"; }
$("after").addEventListener("load", fitBefore);
window.addEventListener("resize", fitBefore);
$("slider").addEventListener("input", () => { $("before-clip").style.width = $("slider").value + "%"; });
