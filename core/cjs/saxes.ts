// saxes without an ES-module import of a CommonJS package (./require.ts).
import type * as Saxes from "saxes";
import { requireCjs } from "./require.js";

const saxes = requireCjs("saxes") as typeof Saxes;

export const SaxesParser = saxes.SaxesParser;
export type SaxesParser<O extends Saxes.SaxesOptions = {}> = Saxes.SaxesParser<O>;
