// What the dispatcher's and the shopper's maps share: text-safe DOM helpers, times in the stores'
// time zone, and the base map (a tile server when MAP_TILE_URL is set, else the service's own
// streets from /api/v1/map/streets, drawn on one canvas so panning stays smooth).
"use strict";

// Every text that comes from data goes into the page as text (DOM nodes, never HTML strings):
// Leaflet reads a string given to a popup, a tooltip or a divIcon as HTML, so they get nodes.
const text = (value) => document.createTextNode(value == null ? "—" : String(value));
function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([key, value]) => node.setAttribute(key, value));
  children.forEach((child) => node.append(child instanceof Node ? child : text(child)));
  return node;
}
// a popup or tooltip of several lines of text
const lines = (...texts) => element("div", {}, ...texts.flatMap((line, i) => i ? [element("br"), line] : [line]));

// "14:05" in the given IANA zone (the stores' own), whatever zone the browser is in
function clockIn(iso, timeZone, locale) {
  if (!iso) { return "—"; }
  return new Date(iso).toLocaleTimeString(locale || [], {hour: "2-digit", minute: "2-digit", hour12: false,
                                                         timeZone: timeZone || undefined});
}
// "UTC+8" for a zone, shown beside times so nobody wonders which clock they are read on
function zoneLabel(timeZone, at) {
  if (!timeZone) { return ""; }
  const part = new Intl.DateTimeFormat("en", {timeZone, timeZoneName: "shortOffset"})
    .formatToParts(at ? new Date(at) : new Date()).find((p) => p.type === "timeZoneName");
  return part ? part.value.replace("GMT", "UTC") : timeZone;
}

const STREET_STYLES = {
  major: {color: "#f2b45a", weight: 5},
  minor: {color: "#ffffff", weight: 3.5},
  service: {color: "#ffffff", weight: 1.5},
};

// Lines get wider as one zooms in, and service ways only appear once they can be told apart.
function streetStyle(kind, zoom) {
  const base = STREET_STYLES[kind] || STREET_STYLES.minor;
  const scale = Math.max(0.35, Math.min(2, (zoom - 11) / 4));
  const hidden = kind === "service" && zoom < 14;
  return {color: base.color, weight: base.weight * scale, opacity: hidden ? 0 : 1, lineCap: "round",
          lineJoin: "round", interactive: false};
}

// A Leaflet map on `element` with its base layer; `element.dataset.tileUrl` picks a tile server.
// Resolves the street layer's feature count into element.dataset.streets (the tests read it).
function baseMap(element, {center, zoom, attribution}) {
  const map = L.map(element, {zoomSnap: 0.25}).setView(center, zoom);
  map.attributionControl.setPrefix(false);
  const credit = attribution || "© OpenStreetMap contributors";
  if (element.dataset.tileUrl) {
    L.tileLayer(element.dataset.tileUrl, {attribution: credit, maxZoom: 19}).addTo(map);
    return map;
  }
  element.classList.add("street-ground");
  map.createPane("streets").style.zIndex = 250;  // above the ground, below every marker and route
  const renderer = L.canvas({pane: "streets", padding: 0.5});
  map.attributionControl.addAttribution(credit);
  fetch("/api/v1/map/streets").then((answer) => answer.ok ? answer.json() : Promise.reject(answer.status))
    .then((streets) => {
      const layer = L.geoJSON(streets, {renderer, pane: "streets", interactive: false,
                                        style: (f) => streetStyle(f.properties.class, map.getZoom())});
      layer.addTo(map);
      map.on("zoomend", () => layer.setStyle((f) => streetStyle(f.properties.class, map.getZoom())));
      element.dataset.streets = String(streets.features.length);
    })
    .catch(() => { element.dataset.streets = "0"; });  // the data still shows, on a plain ground
  return map;
}
