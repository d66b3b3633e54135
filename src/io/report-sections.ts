/**
 * Sections the run and explore reports share: the machine (the topology tree and the map type of
 * each exporter/importer pair) and the probe lists.
 */
import { html, section, table } from "./report-html.js";
import type { ReportTopology } from "./report-topology.js";
import { MAP_TYPE_COLORS, renderTopologySvg } from "./svg-topology.js";

/** What each map type means for the importer, in a phrase [kernel.md §a.3]. */
const MAP_TYPE_MEANING: Readonly<Record<string, string>> = {
  "bus-addr": "P2P turns around in a switch: the importer is programmed with bus addresses, no IOMMU",
  "thru-host-bridge": "through the root complex: mapped through the host bridge (and IOMMU when on)",
  "not-supported": "no P2P path: the attach or map fails",
};

/**
 * The topology section: the tree, then the pairs table.
 * @param topology undefined when the input has none (an older JSON): the section says so.
 */
export function topologySection(topology: ReportTopology | undefined): string {
  if (topology === undefined)
    return section(
      "topology",
      "Machine",
      '<p class="muted">This result carries no topology (written by an older p2psim); rerun with this version to draw it.</p>',
    );
  const pairs =
    topology.pairs.length === 0
      ? '<p class="muted">The scenario names no exporter/importer pair.</p>'
      : table(
          ["exporter (provider)", "importer (client)", "map type", "distance#", "meaning"],
          topology.pairs.map((p) => [
            html(p.exporter),
            html(p.importer),
            `<span class="map-type" data-map-type="${html(p.mapType)}" style="color:${MAP_TYPE_COLORS[p.mapType] ?? "inherit"};font-weight:600">${html(p.mapType)}</span>`,
            String(p.distance),
            html(MAP_TYPE_MEANING[p.mapType] ?? ""),
          ]),
        );
  return section(
    "topology",
    `Machine: ${topology.name}`,
    [
      renderTopologySvg(topology),
      '<p class="legend-note">Connector thickness follows the link width (x1 thin … x16 thick). Exporters and importers of the scenario are outlined; each importer shows the map type and distance the p2pdma walk computed',
      ` (rules: ${html(topology.p2pdmaProfile)}).</p>`,
      pairs,
    ].join("\n"),
  );
}

/** Probe pills: those hit (with a count) and those never hit. */
export function probePills(hit: ReadonlyArray<readonly [string, number]>, never: readonly string[], unit: string): string {
  const hits =
    hit.length === 0
      ? '<span class="muted">none</span>'
      : hit.map(([p, n]) => `<span class="pill probe-hit" data-probe="${html(p)}">${html(p)} ×${n}${unit}</span>`).join("");
  const nevers =
    never.length === 0
      ? '<span class="muted">none</span>'
      : never.map((p) => `<span class="pill never probe-never" data-probe="${html(p)}">${html(p)}</span>`).join("");
  return `<p><b>hit:</b> ${hits}</p>\n<p><b>never hit:</b> ${nevers}</p>`;
}
