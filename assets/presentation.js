() => {
  // Presentation mode for plots: Plotly lays out margins for its font size, so a
  // CSS-only enlargement overlaps labels. Re-lay out every plot with a larger
  // font instead, including plots drawn later (tab switches, new analyses).
  const LARGE = 20;
  const TALLER = 1.5;
  window.anatomyPresentation = { LARGE, TALLER }; // live views size their plots with it
  const presenting = () => document.documentElement.classList.contains("presentation");
  const fit = () => {
    const repaints = new Set();
    document.querySelectorAll(".js-plotly-plot").forEach((plot) => {
      // A live view (assets/live_view.js) sizes its own plots: ask it to draw again.
      const live = plot._anatomyPresented;
      if (live) {
        if (live.on !== presenting()) repaints.add(live.repaint); // its mode, or before this ran
        return;
      }
      const Plotly = window.Plotly; // Gradio's plots are drawn by the copy it puts on window
      const layout = plot._fullLayout;
      if (!Plotly) return;
      if (!layout || !layout.font) return;
      // A new figure in the same element brings a new layout object: measure it again.
      if (plot._anatomyLayout !== plot.layout) {
        plot._anatomyLayout = plot.layout;
        plot.dataset.baseFont = layout.font.size;
        plot.dataset.baseHeight = (plot.layout && plot.layout.height) || layout.height;
      }
      const on = presenting();
      const size = on ? Math.max(LARGE, +plot.dataset.baseFont) : +plot.dataset.baseFont;
      const height = Math.round(+plot.dataset.baseHeight * (on ? TALLER : 1));
      const changes = {};
      if (layout.font.size !== size) changes["font.size"] = size;
      if (Math.abs(layout.height - height) > 1) changes.height = height;
      if (Object.keys(changes).length) {
        Plotly.relayout(plot, changes).then(() => {
          plot._anatomyLayout = plot.layout;
        });
      }
    });
    repaints.forEach((repaint) => repaint());
  };
  let pending = null;
  const later = () => {
    clearTimeout(pending);
    pending = setTimeout(fit, 250);
  };
  new MutationObserver(later).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["class"],
  });
}
