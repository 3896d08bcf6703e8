"""A tiny, complete OSM extract (London, near Bank) as Overpass JSON and as OSM XML.

Lengths are chosen so that areas are easy to check: at latitude 51.515 deg one degree of
latitude is ~111.26 km and one of longitude ~69.4 km.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

LAT0, LON0 = 51.5150, -0.0900
DLAT_PER_M = 1 / 111_260.0
DLON_PER_M = 1 / 69_400.0

# map-file bbox that holds every feature below
BBOX = {"south": 51.5140, "west": -0.0915, "north": 51.5160, "east": -0.0885}


def _pt(x_m: float, y_m: float) -> tuple[float, float]:
    return LAT0 + y_m * DLAT_PER_M, LON0 + x_m * DLON_PER_M


# ways as rings of (x, y) metres from (LAT0, LON0); closed implicitly
WAYS = {
    # 20 x 10 m box, height "12 m"
    101: ([(-60, -40), (-40, -40), (-40, -30), (-60, -30)], {"building": "office", "height": "12 m"}),
    # L shape (concave): 30 x 30 minus 20 x 20 -> 500 m2, 4 levels
    102: ([(0, 0), (30, 0), (30, 10), (10, 10), (10, 30), (0, 30)],
          {"building": "apartments", "building:levels": "4"}),
    # outer and inner ring of a multipolygon relation (courtyard): 40x40 - 20x20 = 1200 m2
    103: ([(40, -60), (80, -60), (80, -20), (40, -20)], {}),
    104: ([(50, -50), (70, -50), (70, -30), (50, -30)], {}),
    # outline with a building:part covering its western half
    105: ([(-60, 20), (-20, 20), (-20, 40), (-60, 40)], {"building": "yes", "building:levels": "2"}),
    106: ([(-60, 20), (-40, 20), (-40, 40), (-60, 40)], {"building:part": "yes", "building:levels": "10",
                                                          "building:min_level": "1"}),
    # odd height tag and glass facade
    107: ([(40, 20), (50, 20), (50, 30), (40, 30)], {"building": "retail", "height": "3;4",
                                                     "building:material": "glass"}),
}
RELATIONS = {
    201: ([(103, "outer"), (104, "inner")], {"type": "multipolygon", "building": "yes", "height": "20"}),
}


def _nodes() -> tuple[list[dict], dict[int, list[int]]]:
    nodes, way_nodes, nid = [], {}, 1
    for wid, (ring, _tags) in WAYS.items():
        ids = []
        for x, y in ring:
            lat, lon = _pt(x, y)
            nodes.append({"type": "node", "id": nid, "lat": round(lat, 7), "lon": round(lon, 7)})
            ids.append(nid)
            nid += 1
        way_nodes[wid] = ids + [ids[0]]
    return nodes, way_nodes


def overpass_json() -> dict:
    """The extract as an Overpass API JSON response (``out body; >; out skel qt;``)."""
    nodes, way_nodes = _nodes()
    elements = list(nodes)
    for wid, (_ring, tags) in WAYS.items():
        el = {"type": "way", "id": wid, "nodes": way_nodes[wid]}
        if tags:
            el["tags"] = tags
        elements.append(el)
    for rid, (members, tags) in RELATIONS.items():
        elements.append({"type": "relation", "id": rid, "tags": tags,
                         "members": [{"type": "way", "ref": w, "role": r} for w, r in members]})
    return {"version": 0.6, "generator": "stin test fixture", "elements": elements}


def osm_xml() -> str:
    """The same extract as an OSM XML file."""
    nodes, way_nodes = _nodes()
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="stin test fixture">']
    for n in nodes:
        out.append(f'  <node id="{n["id"]}" version="1" lat="{n["lat"]}" lon="{n["lon"]}"/>')
    for wid, (_ring, tags) in WAYS.items():
        out.append(f'  <way id="{wid}" version="1">')
        out += [f'    <nd ref="{r}"/>' for r in way_nodes[wid]]
        out += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        out.append("  </way>")
    for rid, (members, tags) in RELATIONS.items():
        out.append(f'  <relation id="{rid}" version="1">')
        out += [f'    <member type="way" ref="{w}" role="{r}"/>' for w, r in members]
        out += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        out.append("  </relation>")
    out.append("</osm>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # regenerate the recorded response
    Path(__file__).with_name("data").joinpath("overpass_buildings.json").write_text(
        json.dumps(overpass_json(), indent=1) + "\n", encoding="utf-8")
