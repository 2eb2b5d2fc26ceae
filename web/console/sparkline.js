// Draws a series as an SVG sparkline with DOM APIs (no chart library, no inline styles): a line, gaps where a value is missing.

const svgNamespace = "http://www.w3.org/2000/svg";
const width = 120;
const height = 32;

/**
 * Replaces the contents of `svg` (viewBox 0 0 120 32) with the line of `values`, oldest first, scaled to the largest
 * value; null values leave a gap. A series without any value draws nothing.
 * @param {SVGSVGElement} svg
 * @param {(number | null)[]} values
 */
export function drawSparkline(svg, values) {
  svg.replaceChildren();
  const numbers = values.filter((value) => typeof value === "number" && Number.isFinite(value));
  if (numbers.length === 0) return;
  const top = Math.max(...numbers, 0) || 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const x = (index) => (values.length > 1 ? index * step : width);
  const y = (value) => height - 2 - (value / top) * (height - 4);
  let d = "";
  let drawing = false;
  values.forEach((value, index) => {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      drawing = false;
      return;
    }
    d += `${drawing ? "L" : "M"}${x(index).toFixed(1)} ${y(value).toFixed(1)} `;
    drawing = true;
  });
  // A single point still shows as a dot-sized stroke.
  if (numbers.length === 1) d += "h-1";
  const path = document.createElementNS(svgNamespace, "path");
  path.setAttribute("d", d.trim());
  path.setAttribute("class", "sparkline-line");
  path.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(path);
}
