// Export buttons (components/page/export.py): on a press, ask the server for the files
// of the analysis on screen (this component's value holds its key) with the settings
// the address bar holds now, and hand them to the browser as downloads.
const buttons = {
  json: element.querySelector("#export-json"),
  csv: element.querySelector("#export-csv"),
};
const message = element.querySelector(".export-message");
const TYPES = { json: "application/json", csv: "text/csv" };

function analysed() {
  try {
    const request = JSON.parse(props.value || "{}");
    return request.key && request.key.length ? request : null;
  } catch (error) {
    return null;
  }
}

function enable() {
  const ready = !!analysed();
  for (const button of Object.values(buttons)) button.disabled = !ready;
}

function save(file, kind) {
  // CSV with a byte-order mark: spreadsheet programs then read Korean as UTF-8.
  const text = kind === "csv" ? "\ufeff" + file.text : file.text;
  const url = URL.createObjectURL(new Blob([text], { type: TYPES[kind] }));
  const link = document.createElement("a");
  link.href = url;
  link.download = file.name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function download(kind) {
  const request = analysed();
  if (!request) return;
  const view = Object.fromEntries(new URLSearchParams(window.location.search));
  buttons[kind].disabled = true;
  message.textContent = "";
  try {
    const files = await server.export_files({ key: request.key, view });
    if (files.error) message.textContent = files.error;
    else save(files[kind], kind);
  } catch (error) {
    message.textContent = String((error && error.message) || error);
  } finally {
    enable();
  }
}

for (const [kind, button] of Object.entries(buttons)) {
  button.addEventListener("click", () => download(kind));
}
watch(["value", "json_label", "csv_label"], enable);
enable();
