() => {
  // Presentation mode for plots: Plotly lays out margins for its font size, so a
  // CSS-only enlargement overlaps labels. Re-lay out every plot with a larger
  // font instead, including plots drawn later (tab switches, new analyses).
  const LARGE = 20;
  const presenting = () => document.documentElement.classList.contains("presentation");
  const fit = () => {
    if (!window.Plotly) return;
    document.querySelectorAll(".js-plotly-plot").forEach((plot) => {
      const layout = plot._fullLayout;
      if (!layout || !layout.font) return;
      if (plot.dataset.baseFont === undefined) plot.dataset.baseFont = layout.font.size;
      const size = presenting() ? Math.max(LARGE, +plot.dataset.baseFont) : +plot.dataset.baseFont;
      if (layout.font.size !== size) window.Plotly.relayout(plot, { "font.size": size });
    });
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
