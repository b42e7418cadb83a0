// A live view (components/page/live.py): runs once per view, with Gradio's
// `element`, `props`, `server` and `watch`. The view's value is a request (JSON);
// user changes of its controls arrive through window.anatomyLive[name](changes).
// At most one request is in flight; while it runs, only the newest change waits,
// and an answer that a newer request has overtaken is not drawn.
// The view's name and plotly's address are read from the template, not from props:
// a view mounted late (in a tab opened later) gets only the props of its last update.
const view = element.querySelector(".live-view");
const name = view.dataset.live;
const message = element.querySelector(".live-message");
const SLOW_MS = 400; // past this, say that the answer is coming
let slow = null;
let request = null;
let waiting = null;
let busy = false;
let drawn = 0;

const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

// plotly.js: Gradio's copy when a gr.Plot has loaded it, else the plotly package's
// copy that this app serves. The plot keeps the one that drew it (presentation.js
// re-lays it out with the same one).
function plotlyReady(box) {
  if (box._anatomyPlotly) return Promise.resolve(box._anatomyPlotly);
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.anatomyPlotly) {
    window.anatomyPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = view.dataset.plotly;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error("plotly.js did not load"));
      document.head.appendChild(script);
    });
  }
  return window.anatomyPlotly;
}

// What the page says while an answer takes long: the words for a slow case the request
// names (a first UMAP fit), else the general ones.
function workingText(asked) {
  for (const [field, texts] of Object.entries(asked.working_when || {})) {
    if (texts[asked[field]]) return texts[asked[field]];
  }
  return asked.working || "…";
}

// Presentation mode (assets/presentation.js): larger type, taller plots and larger
// text on the points, applied before drawing, so a redraw never shows small type first.
function presenting() {
  const on = document.documentElement.classList.contains("presentation");
  return on && !!window.anatomyPresentation; // sized only once presentation.js has run
}

function presented(figure) {
  const sizes = window.anatomyPresentation;
  if (!presenting()) return figure;
  const base = (figure.layout.font && figure.layout.font.size) || 12;
  const grow = Math.max(sizes.LARGE, base) / base;
  const layout = { ...figure.layout, font: { ...figure.layout.font, size: base * grow } };
  if (figure.layout.height) layout.height = Math.round(figure.layout.height * sizes.TALLER);
  const data = figure.data.map((trace) =>
    trace.textfont && trace.textfont.size
      ? { ...trace, textfont: { ...trace.textfont, size: Math.round(trace.textfont.size * grow) } }
      : trace,
  );
  return { data, layout };
}

let last = null; // the answer on screen, drawn again when presentation mode changes
function repaint() {
  if (!busy && last) paint(last.answer, last.asked);
}

async function paint(answer, asked) {
  clearTimeout(slow);
  view.dataset.busy = "";
  message.classList.remove("live-working");
  if (answer.error) {
    message.textContent = answer.error;
    view.dataset.error = "1";
    return;
  }
  message.textContent = "";
  delete view.dataset.error;
  const figures = answer.figures || {};
  for (const box of element.querySelectorAll(".live-plot")) {
    const figure = figures[box.dataset.plot];
    box.hidden = !figure;
    if (!figure) continue;
    const Plotly = await plotlyReady(box);
    box._anatomyPlotly = Plotly;
    const shown = presented(figure);
    // the user's zoom or 3D camera stays while the same analysis is re-sliced
    const layout = { uirevision: JSON.stringify(asked.key), ...shown.layout };
    await Plotly.react(box, shown.data, layout, CONFIG);
    box._anatomyPresented = { on: presenting(), repaint };
  }
  last = { answer, asked };
  for (const box of element.querySelectorAll(".live-note")) {
    box.innerHTML = (answer.notes && answer.notes[box.dataset.note]) || "";
  }
  drawn += 1;
  view.dataset.drawn = String(drawn);
  view.dataset.request = JSON.stringify(asked);
  view.dataset.state = JSON.stringify(answer.state || {});
}

async function pump() {
  if (busy) return;
  busy = true;
  while (waiting) {
    const asked = waiting;
    waiting = null;
    view.dataset.busy = "1";
    clearTimeout(slow);
    slow = setTimeout(() => {
      message.classList.add("live-working");
      message.textContent = workingText(asked);
    }, SLOW_MS);
    let answer;
    try {
      answer = await server.live_answer(asked);
    } catch (error) {
      answer = { error: String((error && error.message) || error) };
    }
    if (waiting) continue; // overtaken by a newer request: draw that one instead
    try {
      await paint(answer, asked);
    } catch (error) {
      message.textContent = String(error);
    }
  }
  busy = false;
}

function ask(next) {
  if (!next || !next.key || !next.key.length) return;
  request = next;
  waiting = next;
  pump();
}

// A user's changes made before this view had its first request (its tab was still
// opening) are applied to that request, once.
let early = (window.anatomyLivePending || {})[name] || null;
if (window.anatomyLivePending) delete window.anatomyLivePending[name];

function fromValue() {
  if (!props.value) return;
  try {
    const next = JSON.parse(props.value);
    if (early) Object.assign(next, early);
    early = null;
    ask(next);
  } catch (error) {
    message.textContent = String(error);
  }
}

window.anatomyLive = window.anatomyLive || {};
window.anatomyLive[name] = (changes) => {
  if (!request) {
    early = { ...(early || {}), ...changes };
    return;
  }
  // a menu pick can fire its input event twice: ask once per new value
  if (Object.entries(changes).every(([field, value]) => request[field] === value)) return;
  ask({ ...request, ...changes });
};
watch("value", fromValue);
fromValue();
