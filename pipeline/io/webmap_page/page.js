
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("stin-data").textContent);
  const esc = (s) => String(s).replace(/[&<>"']/g,
    (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const rows = (pairs) => '<table class="stin-popup">' + pairs
    .filter((p) => p[1] !== null && p[1] !== undefined && p[1] !== "")
    .map((p) => "<tr><th>" + esc(p[0]) + "</th><td>" + esc(p[1]) + "</td></tr>").join("") + "</table>";
  const nSlots = D.times.length;
  const map = L.map("map", {minZoom: 2, maxZoom: 21, zoomSnap: 0.25, worldCopyJump: false});
  map.fitBounds(D.city_bounds, {padding: [10, 10]});  // a view before any layer (Leaflet needs one)
  map.createPane("cinr").style.zIndex = 350;  // below the vector layers (overlayPane: 400)
  const overlays = {};
  const stin = {map: map, layers: {}, slot: 0, ready: false};
  window.stin = stin;

  // CINR maps: one image overlay per network; the slot control swaps its image
  const cinr = {};
  D.cinr.forEach((c, k) => {
    const ov = L.imageOverlay(c.images[0], D.cinr_bounds, {pane: "cinr", opacity: 0.8, interactive: false,
      className: "stin-cinr stin-cinr-" + c.name, alt: c.label});
    cinr[c.name] = ov;
    overlays[c.label + " (" + c.units + ")"] = ov;
    stin.layers[c.name] = ov;
    if (k === 0) ov.addTo(map);
  });

  if (D.buildings) {
    const b = L.geoJSON(D.buildings, {
      style: (f) => ({color: "#333", weight: f.properties.kind === "part" ? 0.6 : 1, fillColor: "#999",
                      fillOpacity: 0.25, className: "stin-building"}),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        layer.bindPopup("<b>" + esc(p.name || "building") + "</b>" + rows([["OSM", p.id], ["type", p.type],
          ["volume", p.kind], ["height", p.height_m === null ? null : p.height_m + " m"],
          ["min height", p.min_height_m ? p.min_height_m + " m" : null], ["height from", p.source]]));
      }}).addTo(map);
    overlays["Buildings (" + D.buildings.features.length + ")"] = b;
    stin.layers.buildings = b;
  }

  if (D.routes) {
    const colours = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
                     "#469990", "#9a6324", "#800000", "#000075"];
    let i = 0;
    const r = L.geoJSON(D.routes, {
      style: () => ({color: colours[(i++) % colours.length], weight: 3, opacity: 0.9, className: "stin-route"}),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        layer.bindPopup("<b>car route " + esc(p.ue) + "</b>" + rows([["length", p.length_m + " m"],
          ["duration", p.duration_s + " s"]]));
      }}).addTo(map);
    overlays["Car routes (" + D.routes.features.length + ")"] = r;
    stin.layers.routes = r;
  }

  let cars = null;
  if (D.cars) {
    cars = L.layerGroup().addTo(map);
    overlays["Cars at the slot"] = cars;
    stin.layers.cars = cars;
  }

  if (D.sites) {
    const g = L.layerGroup();
    D.sites.forEach((s) => {
      s.sectors.forEach((sec) => {
        L.polyline([[s.lat, s.lon], sec.end], {color: "#b00", weight: 2, className: "stin-sector"})
          .bindTooltip(esc(sec.name) + ": bearing " + sec.bearing_deg + "\u00b0").addTo(g);
      });
      const f = s.fields;
      L.circleMarker([s.lat, s.lon], {radius: 6, color: "#222", weight: 1, fillColor: "#e00", fillOpacity: 1,
                                      className: "stin-site"})
        .bindPopup("<b>BS site " + esc(s.id) + "</b>" + rows([["segment", f.segment_id],
          ["antenna height", f.z_m === undefined ? null : f.z_m + " m"],
          ["roof height", f.roof_height_m === undefined ? null : f.roof_height_m + " m"],
          ["on building", f.building_id],
          ["sectors", s.sectors.map((x) => x.name.split("-").pop() + " " + x.bearing_deg + "\u00b0").join(", ")]]))
        .addTo(g);
    });
    g.addTo(map);
    overlays["BS sites and sectors (" + D.sites.length + ")"] = g;
    stin.layers.sites = g;
  }

  let satNow = null;
  if (D.satellites) {
    const S = D.satellites;
    const g = L.layerGroup();
    S.tracks.forEach((t) => {
      const served = t.served_slots.length > 0;
      const pts = t.lat.map((la, i) => [la, t.lon[i]]);
      const elMax = Math.max.apply(null, t.el);
      L.polyline(pts, {color: served ? "#ff7f00" : "#5b6b8c", weight: served ? 3 : 1.5,
                       dashArray: served ? null : "4 4", className: "stin-sat-track"})
        .bindPopup("<b>satellite " + esc(t.id) + "</b>" + rows([
          ["elevation", t.el[0] + "\u00b0 \u2192 " + t.el[t.el.length - 1] + "\u00b0 (max " + elMax + "\u00b0)"],
          ["azimuth", t.az[0] + "\u00b0 \u2192 " + t.az[t.az.length - 1] + "\u00b0"],
          ["altitude", t.alt_km + " km"],
          ["serving in slots", served ? t.served_slots.map((i) => i + 1).join(", ") : "none"]]))
        .addTo(g);
      L.circleMarker(pts[pts.length - 1], {radius: 2, color: served ? "#ff7f00" : "#5b6b8c", weight: 1,
                                            fillOpacity: 1}).bindTooltip(esc(t.id) + " (end of the window)").addTo(g);
    });
    g.addTo(map);
    overlays["Satellite ground tracks (" + S.tracks.length + " above " + S.mask_deg + "\u00b0" +
      (S.nearest_km === null ? "" : "; " + S.nearest_km + " km " + S.direction + ": zoom out") + ")"] = g;
    stin.layers.satellites = g;
    satNow = L.layerGroup().addTo(map);
    overlays["Serving satellites at the slot"] = satNow;
    stin.layers.serving = satNow;
  }

  if (D.bbox) {
    const a = L.rectangle([[D.bbox[0], D.bbox[1]], [D.bbox[2], D.bbox[3]]],
      {color: "#1f4e9c", weight: 1.5, dashArray: "6 4", fill: false, interactive: false}).addTo(map);
    overlays["Study area"] = a;
  }

  const osm = L.tileLayer(D.osm.url, {maxZoom: 21, maxNativeZoom: 19, attribution: D.osm.attribution});
  overlays["OpenStreetMap tiles (online)"] = osm;  // off: nothing is fetched unless turned on
  stin.layers.osm = osm;
  osm.on("add", () => osm.bringToBack());

  // ---- title, slot control, legend, scale --------------------------------------------------------------
  const info = L.control({position: "topright"});
  info.onAdd = () => {
    const d = L.DomUtil.create("div", "stin-box stin-title");
    const i = D.info;
    const bits = [];
    if (i.freq_hz) bits.push((i.freq_hz / 1e9).toFixed(2) + " GHz");
    if (i.bandwidth_hz) bits.push((i.bandwidth_hz / 1e6).toFixed(0) + " MHz");
    if (i.noise_dbm !== undefined) bits.push("noise " + i.noise_dbm + " dBm");
    if (i.cell_size_m) bits.push(i.cell_size_m + " m cells");
    d.innerHTML = "<h1>" + esc(D.city) + "</h1><div class='muted'>" + esc(bits.join(" \u00b7 ")) + "</div>" +
      (D.satellites ? "<div class='muted'>" + esc(D.satellites.description) + "</div>" : "");
    return d;
  };
  info.addTo(map);
  L.control.layers(null, overlays, {collapsed: false, position: "topright"}).addTo(map);

  const slotCtl = L.control({position: "topleft"});
  slotCtl.onAdd = () => {
    const d = L.DomUtil.create("div", "stin-box stin-slot");
    d.innerHTML = "<div><b>Slot <span id='stin-slot-n'></span></b> <span id='stin-slot-t' class='muted'></span></div>" +
      "<button id='stin-prev' title='previous slot'>&#9664;</button> " +
      "<input id='stin-slot' type='range' min='0' max='" + (nSlots - 1) + "' step='1' value='0'> " +
      "<button id='stin-next' title='next slot'>&#9654;</button>" +
      "<div>opacity <input id='stin-opacity' type='range' min='0' max='1' step='0.05' value='0.8'></div>";
    L.DomEvent.disableClickPropagation(d);
    L.DomEvent.disableScrollPropagation(d);
    return d;
  };
  slotCtl.addTo(map);

  const legend = L.control({position: "bottomright"});
  legend.onAdd = () => {
    const d = L.DomUtil.create("div", "stin-box stin-legend");
    d.id = "stin-legend";
    const stops = [];
    for (let k = 0; k < D.palette.length; k += 8) stops.push(D.palette[k]);
    stops.push(D.palette[D.palette.length - 1]);
    const pos = (v) => (100 * (v - D.vmin) / (D.vmax - D.vmin)).toFixed(2) + "%";
    const ticks = D.ticks.map((v) => "<span style='left:" + pos(v) + "'>" + v + "</span>").join("");
    d.innerHTML = "<b>CINR (" + esc(D.units) + ")</b> <span class='muted'>clipped to " + D.vmin + "\u2026" +
      D.vmax + " " + esc(D.units) + "; transparent: inside buildings</span>" +
      "<div class='bar' style='background: linear-gradient(to right, " + stops.join(", ") + ")'></div>" +
      "<div class='ticks'>" + ticks + "</div>" +
      "<div id='stin-readout' class='muted'>move over the map for the CINR of a cell</div>" +
      "<div><span class='dot' style='background:#e00'></span>BS site" +
      (D.routes ? "<span class='key' style='border-color:#4363d8; margin-left:8px'></span>car route " +
        "<span class='dot' style='background:#fff; margin-left:2px'></span>car" : "") +
      (D.satellites ? "<span class='key' style='border-color:#ff7f00; margin-left:8px'></span>serving satellite" +
        "<span class='key' style='border-color:#5b6b8c; border-top-style:dashed; margin-left:8px'></span>other" : "") +
      "</div>";
    return d;
  };
  legend.addTo(map);
  L.control.scale({imperial: false, maxWidth: 160, position: "bottomleft"}).addTo(map);

  const centre = L.latLngBounds(D.city_bounds).getCenter();  // serving satellites: a line city -> ground point

  // ---- the slot: images, cars, serving satellites --------------------------------------------------------
  function setSlot(i) {
    i = Math.max(0, Math.min(nSlots - 1, i | 0));
    stin.slot = i;
    D.cinr.forEach((c) => cinr[c.name].setUrl(c.images[Math.min(i, c.images.length - 1)]));
    document.getElementById("stin-slot").value = i;
    document.getElementById("stin-slot-n").textContent = (i + 1) + "/" + nSlots;
    document.getElementById("stin-slot-t").textContent = D.times[i];
    if (cars) {
      cars.clearLayers();
      D.cars.ids.forEach((u, k) => {
        L.circleMarker([D.cars.lat[i][k], D.cars.lon[i][k]], {radius: 5, color: "#000", weight: 1.5,
            fillColor: "#fff", fillOpacity: 1, className: "stin-car"})
          .bindTooltip("car " + esc(u) + (D.cars.speed ? ", " + D.cars.speed[i][k] + " m/s" : "")).addTo(cars);
      });
    }
    if (satNow) {
      satNow.clearLayers();
      D.satellites.serving[i].forEach((s) => {
        const t = D.satellites.tracks[s.track];
        L.polyline([centre, [t.lat[s.step], t.lon[s.step]]], {color: "#ff7f00", weight: 1.5, dashArray: "2 6",
            interactive: false, className: "stin-sat-link"}).addTo(satNow);
        L.circleMarker([t.lat[s.step], t.lon[s.step]], {radius: 7, color: "#000", weight: 1, fillColor: "#ff7f00",
            fillOpacity: 1, className: "stin-sat-now"})
          .bindPopup("<b>satellite " + esc(t.id) + "</b>" + rows([["serving rank", s.rank],
            ["elevation", t.el[s.step] + "\u00b0"], ["azimuth", t.az[s.step] + "\u00b0"],
            ["time", D.times[i]]]))
          .bindTooltip(esc(t.id) + ": elevation " + t.el[s.step] + "\u00b0").addTo(satNow);
      });
    }
  }
  stin.setSlot = setSlot;
  document.getElementById("stin-slot").addEventListener("input", (e) => setSlot(+e.target.value));
  document.getElementById("stin-prev").addEventListener("click", () => setSlot(stin.slot - 1));
  document.getElementById("stin-next").addEventListener("click", () => setSlot(stin.slot + 1));
  document.getElementById("stin-opacity").addEventListener("input",
    (e) => Object.values(cinr).forEach((ov) => ov.setOpacity(+e.target.value)));

  // ---- value under the cursor: the palette colour of the image pixel, back to dB --------------------------
  const lookup = new Map(D.palette.map((h, k) => [h, k]));
  const canvases = {};
  function pixelValue(name, latlng) {
    const ov = cinr[name];
    if (!map.hasLayer(ov)) return undefined;
    const img = ov.getElement();
    if (!img || !img.complete || !img.naturalWidth) return undefined;
    let c = canvases[name];
    if (!c || c.src !== img.src) {
      const cv = document.createElement("canvas");
      cv.width = img.naturalWidth; cv.height = img.naturalHeight;
      const ctx = cv.getContext("2d", {willReadFrequently: true});
      ctx.drawImage(img, 0, 0);
      c = canvases[name] = {src: img.src, ctx: ctx, w: cv.width, h: cv.height};
    }
    const nw = map.project(L.latLng(D.cinr_bounds[1][0], D.cinr_bounds[0][1]), 0);
    const se = map.project(L.latLng(D.cinr_bounds[0][0], D.cinr_bounds[1][1]), 0);
    const p = map.project(latlng, 0);
    const fx = (p.x - nw.x) / (se.x - nw.x), fy = (p.y - nw.y) / (se.y - nw.y);
    if (fx < 0 || fx >= 1 || fy < 0 || fy >= 1) return undefined;
    const px = c.ctx.getImageData(Math.floor(fx * c.w), Math.floor(fy * c.h), 1, 1).data;
    if (px[3] === 0) return null;
    const hex = "#" + [px[0], px[1], px[2]].map((v) => v.toString(16).padStart(2, "0")).join("");
    let k = lookup.get(hex);
    if (k === undefined) {  // nearest palette colour
      let best = 1e9;
      D.palette.forEach((h, j) => {
        const r = parseInt(h.slice(1, 3), 16) - px[0], g = parseInt(h.slice(3, 5), 16) - px[1],
          b = parseInt(h.slice(5, 7), 16) - px[2];
        const dd = r * r + g * g + b * b;
        if (dd < best) { best = dd; k = j; }
      });
    }
    return D.vmin + k / (D.levels - 1) * (D.vmax - D.vmin);
  }
  map.on("mousemove", (e) => {
    const parts = [];
    D.cinr.forEach((c) => {
      const v = pixelValue(c.name, e.latlng);
      if (v === undefined) return;
      const txt = v === null ? "no outdoor cell" :
        (v <= D.vmin ? "\u2264 " + D.vmin : v >= D.vmax ? "\u2265 " + D.vmax : "\u2248 " + v.toFixed(1)) + " dB";
      parts.push(c.label.replace("CINR ", "") + ": " + txt);
    });
    document.getElementById("stin-readout").textContent =
      parts.length ? parts.join(" \u00b7 ") : "move over a shown CINR map for the value of a cell";
  });

  setSlot(0);
  stin.ready = true;
})();
