/**
 * matplotlib's colormaps as 256-entry lookup tables, mapped the way
 * matplotlib maps values: normalise by vmin/vmax, scale by 256, truncate.
 *
 * @module
 */
import { CIVIDIS, INFERNO, MAGMA, PLASMA, VIRIDIS } from "./colormap_data.ts";

/** The colormaps convscope knows by name. */
export type ColormapName =
  | "viridis"
  | "magma"
  | "inferno"
  | "plasma"
  | "cividis"
  | "gray"
  | "jet";

/** A colormap: 256 RGB entries as bytes, plus the colour for NaN. */
export interface Colormap {
  /** Its name. */
  readonly name: string;
  /** 256 × RGB, row-major, as matplotlib's `cmap(i, bytes=True)` gives. */
  readonly lut: Uint8Array;
}

/** Every named colormap, in the order the docs list them. */
export const COLORMAP_NAMES: readonly ColormapName[] = [
  "viridis",
  "magma",
  "inferno",
  "plasma",
  "cividis",
  "gray",
  "jet",
];

// matplotlib's `_jet_data` segments: (x, y0, y1) per channel.
const JET_SEGMENTS: readonly (readonly [number, number, number][])[] = [
  [[0, 0, 0], [0.35, 0, 0], [0.66, 1, 1], [0.89, 1, 1], [1, 0.5, 0.5]],
  [[0, 0, 0], [0.125, 0, 0], [0.375, 1, 1], [0.64, 1, 1], [0.91, 0, 0], [1, 0, 0]],
  [[0, 0.5, 0.5], [0.11, 1, 1], [0.34, 1, 1], [0.65, 0, 0], [1, 0, 0]],
];

const GRAY_SEGMENT: [number, number, number][] = [[0, 0, 0], [1, 1, 1]];

/** Samples a LinearSegmentedColormap at i/255 like matplotlib's `_create_lookup_table`. */
function segmentedTable(segments: typeof JET_SEGMENTS): number[] {
  const table: number[] = [];
  // The exact float steps of matplotlib's _create_lookup_table, so that
  // truncation to bytes lands on the same integers.
  const step = 1 / 255;
  for (let i = 0; i < 256; i++) {
    const xi = 255 * (i * step);
    for (const channel of segments) {
      let k = 1;
      while (k < channel.length - 1 && channel[k][0] * 255 < xi) k++;
      const x0 = channel[k - 1][0] * 255, x1 = channel[k][0] * 255;
      const distance = (xi - x0) / (x1 - x0);
      const y = i === 0
        ? channel[0][2]
        : i === 255
        ? channel[channel.length - 1][1]
        : distance * (channel[k][1] - channel[k - 1][2]) + channel[k - 1][2];
      table.push(Math.min(1, Math.max(0, y)));
    }
  }
  return table;
}

function toBytes(table: readonly number[]): Uint8Array {
  // matplotlib converts with (lut * 255).astype(uint8): truncation, not rounding.
  return Uint8Array.from(table, (v) => Math.trunc(v * 255));
}

const cache = new Map<string, Colormap>();

/**
 * Returns a named colormap (viridis, magma, inferno, plasma, cividis, gray, jet).
 *
 * @example
 * ```ts
 * import { colormap } from "convscope";
 * const viridis = colormap("viridis");
 * console.log(viridis.lut.slice(0, 3)); // Uint8Array [68, 1, 84]
 * ```
 */
export function colormap(name: ColormapName | Colormap): Colormap {
  if (typeof name !== "string") return name;
  const hit = cache.get(name);
  if (hit) return hit;
  let table: readonly number[];
  switch (name) {
    case "viridis":
      table = VIRIDIS;
      break;
    case "magma":
      table = MAGMA;
      break;
    case "inferno":
      table = INFERNO;
      break;
    case "plasma":
      table = PLASMA;
      break;
    case "cividis":
      table = CIVIDIS;
      break;
    case "gray":
      table = segmentedTable([GRAY_SEGMENT, GRAY_SEGMENT, GRAY_SEGMENT]);
      break;
    case "jet":
      table = segmentedTable(JET_SEGMENTS);
      break;
    default:
      throw new Error(
        `Unknown colormap "${name}". Known colormaps: ${COLORMAP_NAMES.join(", ")}`,
      );
  }
  const map = { name, lut: toBytes(table) };
  cache.set(name, map);
  return map;
}

/** The finite minimum and maximum of some values (0, 0 when none is finite). */
export function finiteRange(values: ArrayLike<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return Number.isFinite(lo) && Number.isFinite(hi) ? [lo, hi] : finiteRangeSlow(values);
}

function finiteRangeSlow(values: ArrayLike<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

/**
 * Colours scalar values: RGB bytes, three per value. Values below `vmin` take
 * the first colour and above `vmax` the last, as matplotlib does; NaN and
 * infinities take the `bad` colour. `vmin === vmax` maps everything to the
 * first colour (matplotlib's behaviour), never NaN.
 *
 * @example
 * ```ts
 * import { applyColormap } from "convscope";
 * const rgb = applyColormap(new Float32Array([0, 0.5, 1, NaN]), { cmap: "gray" });
 * console.log(rgb); // 0,0,0, 127,127,127 … 255,255,255, 255,0,255
 * ```
 */
export function applyColormap(
  values: ArrayLike<number>,
  options: {
    /** Colormap name or table. Default `"viridis"`. */
    cmap?: ColormapName | Colormap;
    /** Value shown as the first colour; default: the data's finite minimum. */
    vmin?: number;
    /** Value shown as the last colour; default: the data's finite maximum. */
    vmax?: number;
    /** RGB for NaN and ±Infinity ("bad" values). Default magenta `[255, 0, 255]`. */
    bad?: readonly [number, number, number];
  } = {},
): Uint8Array {
  const { lut } = colormap(options.cmap ?? "viridis");
  const [dataMin, dataMax] = options.vmin == null || options.vmax == null
    ? finiteRange(values)
    : [0, 0];
  const vmin = options.vmin ?? dataMin;
  const vmax = options.vmax ?? dataMax;
  const bad = options.bad ?? [255, 0, 255];
  const span = vmax - vmin;
  const scale = span > 0 ? 256 / span : 0;
  const out = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const o = i * 3;
    if (!Number.isFinite(v)) {
      out[o] = bad[0];
      out[o + 1] = bad[1];
      out[o + 2] = bad[2];
      continue;
    }
    let k = Math.floor((v - vmin) * scale);
    if (k > 255) k = 255;
    else if (k < 0) k = 0;
    const l = k * 3;
    out[o] = lut[l];
    out[o + 1] = lut[l + 1];
    out[o + 2] = lut[l + 2];
  }
  return out;
}
